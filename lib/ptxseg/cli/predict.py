"""``ptxseg predict``: masks, findings and optionally a Kaggle RLE file for many chest X-rays (torchrun shards)."""

from __future__ import annotations

import argparse

__all__ = ["register", "run"]


def register(commands: argparse._SubParsersAction) -> None:
    """Add the ``predict`` command to the ``ptxseg`` parser."""
    parser = commands.add_parser(
        "predict",
        help="predict pneumothorax masks for files and folders",
        description="Write one mask per image at its original size to OUT/<image id>.png (0/255) or .nrrd (on "
        "the image's own geometry, overlays in 3D Slicer), and OUT/predictions.csv (image_id, probability, "
        "area_cm2, side, flag, path, error). --format seg writes a DICOM Segmentation of each DICOM input instead "
        "(OUT/<image id>.seg.dcm, for a PACS), with the model's triage qualification. Folders are searched "
        "recursively for supported images. Unreadable files are listed in the CSV with their error and skipped. "
        "Under torchrun every process predicts its share: torchrun --nproc_per_node N -m ptxseg predict ...",
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders")
    parser.add_argument("--model", required=True, help="checkpoint (.safetensors, .pt or .pth)")
    parser.add_argument("--out", required=True, help="output folder (created if missing)")
    parser.add_argument(
        "--format", choices=("png", "nrrd", "seg"), default="png", help="mask file format (default: png)"
    )
    parser.add_argument("--rle", metavar="FILE", help="also write a Kaggle submission CSV (ImageId,EncodedPixels)")
    parser.add_argument(
        "--backend", default="auto", help="auto, torch, openvino or onnxruntime (default: auto = fastest available)"
    )
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N] (default: auto)")
    parser.add_argument("--batch-size", type=int, default=4, help="images per forward pass (default: 4)")
    parser.add_argument(
        "--triage-threshold", type=float, default=0.5, help="probability at which an image is flagged (default: 0.5)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Predict every input (this rank's share under torchrun) and print a summary on rank 0."""
    from ptxseg.compute import distributed
    from ptxseg.evaluation.triage import recorded_qualification
    from ptxseg.inference.batch import PREDICTIONS_NAME, collect_inputs, predict_archive
    from ptxseg.inference.predictor import Predictor
    from ptxseg.model.identity import checkpoint_digest

    distributed.init_from_environment()
    try:
        paths = collect_inputs(args.inputs, exclude=args.out)
        if not paths:
            raise ValueError(f"no supported images found in {', '.join(args.inputs)}")
        predictor = Predictor.from_checkpoint(
            args.model, args.device, args.backend, triage_threshold=args.triage_threshold
        )
        qualification = recorded_qualification(predictor.metadata.metrics)
        rows = predict_archive(
            predictor,
            paths,
            args.out,
            args.format,
            args.batch_size,
            args.rle,
            model_version=checkpoint_digest(args.model),
            triage_qualified=qualification.qualified,
        )
        if distributed.rank() == 0:
            failed = [row for row in rows if row["error"]]
            flagged = sum(row["flag"] == "true" for row in rows)
            print(
                f"predicted {len(rows) - len(failed)} images ({flagged} flagged) with {predictor.backend.name} on "
                f"{distributed.world_size()} process(es): masks and {PREDICTIONS_NAME} in {args.out}"
                + (f", RLE in {args.rle}" if args.rle else "")
            )
            if args.format == "seg" and not qualification.qualified:
                print(f"SEGs say the model is {qualification.reason}")
            for row in failed:
                print(f"skipped {row['path']}: {row['error']}")
    finally:
        distributed.shutdown()
    return 0
