"""``ptxseg evaluate``: score a checkpoint on labelled data in both metric conventions; optionally tune it."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["register", "run", "model_summary"]


def register(commands: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` command to the ``ptxseg`` parser."""
    parser = commands.add_parser(
        "evaluate",
        help="score a checkpoint on labelled images (Dice per image and pooled, AUC, plots, report)",
        description="Predict every labelled image through the same data path as the app (full original "
        "resolution masks) and write OUT/metrics.json, OUT/per_image.csv, OUT/threshold_sweep.png, "
        "OUT/dice_histogram.png, OUT/overlays_best_worst.png and OUT/report.md. Data specs: "
        "siim:DICOM_DIR,RLE_CSV  ptx498:ROOT  folder:IMAGES_DIR,MASKS_DIR  monailabel:STUDIES_DIR. "
        "Post-processing: the checkpoint's own, or --threshold/--min-area, or --tune to grid-search it on this "
        "(validation) set and store the best in the checkpoint.",
    )
    parser.add_argument("--model", required=True, help="checkpoint (.safetensors, .pt or .pth)")
    parser.add_argument(
        "--data", action="append", required=True, metavar="SPEC", help="labelled data spec (repeatable)"
    )
    parser.add_argument(
        "--ids", help="evaluate only the images listed in this file (e.g. a training run's val_ids.txt)"
    )
    parser.add_argument("--out", required=True, help="output folder (created if missing)")
    parser.add_argument(
        "--backend", default="auto", help="auto, torch, openvino or onnxruntime (default: auto = fastest available)"
    )
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N] (default: auto)")
    parser.add_argument(
        "--threshold", type=float, help="use ThresholdPostprocess with this threshold instead of the stored one"
    )
    parser.add_argument(
        "--min-area",
        type=int,
        help="with ThresholdPostprocess: drop mask components smaller than this many model-grid pixels (default 0)",
    )
    parser.add_argument(
        "--tune",
        action="store_true",
        help="grid-search threshold x min-area and triplet post-processing by per-image Dice on this set, "
        "store the best in the checkpoint (rewritten in place, weights unchanged), then evaluate with it",
    )
    parser.add_argument("--batch-size", type=int, default=4, help="images per forward pass (default: 4)")
    parser.add_argument(
        "--triage-threshold", type=float, default=0.5, help="score at which an image is flagged (default: 0.5)"
    )
    parser.add_argument("--save-masks", action="store_true", help="also write each predicted mask to OUT/masks/")
    parser.set_defaults(run=run)


def _shown(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def model_summary(path: str | Path, backend_name: str) -> dict:
    """Which model produced the numbers: its path and the metadata stored with it.

    Example:
        >>> model_summary("best.safetensors", "openvino-bf16")["encoder"]  # doctest: +SKIP
        'efficientnet-b4'
    """
    from ptxseg.model.bundle import load_bundle, model_kind
    from ptxseg.model.checkpoint import CheckpointMetadata, load_checkpoint

    kind = model_kind(path)
    if kind != "unet":
        bundle = load_bundle(path)
        return {
            "path": str(Path(path).resolve()),
            "kind": kind,
            "encoder": kind + " of " + " + ".join(member["encoder"] for member in bundle.describe()),
            "encoder_weights": "trained members",
            "created": "see members",
            "ptxseg_version": "see members",
            "members": bundle.describe(),
            "image_size": bundle.image_size,
            "options": bundle.options,
            "training_data": bundle.training_data,
            "training_metrics": bundle.metrics,
            "backend": backend_name,
        }
    _, stored = load_checkpoint(path)
    metadata = stored or CheckpointMetadata()
    return {
        "path": str(Path(path).resolve()),
        "kind": kind,
        "has_metadata": stored is not None,
        "encoder": metadata.encoder,
        "image_size": metadata.image_size,
        "encoder_weights": metadata.encoder_weights,
        "created": metadata.created,
        "ptxseg_version": metadata.ptxseg_version,
        "stored_postprocess": metadata.postprocess,
        "training_data": metadata.training_data,
        "training_metrics": metadata.metrics,
        "backend": backend_name,
    }


def run(args: argparse.Namespace) -> int:
    """Evaluate (after tuning, with --tune), write the files and print the headline numbers."""
    from ptxseg.datasets.specs import load_data_specs
    from ptxseg.datasets.splits import select_ids
    from ptxseg.evaluation.evaluate import evaluate
    from ptxseg.evaluation.report import REPORT_NAME, write_evaluation
    from ptxseg.evaluation.tuning import store_postprocess, tune_postprocess
    from ptxseg.inference.loading import load_predictor
    from ptxseg.transforms.postprocess import ThresholdPostprocess

    explicit = args.threshold is not None or args.min_area is not None
    if args.tune and explicit:
        raise ValueError("--tune chooses the post-processing itself; drop --threshold/--min-area, or drop --tune")
    postprocess = None
    if explicit:
        postprocess = ThresholdPostprocess(0.5 if args.threshold is None else args.threshold, args.min_area or 0)
    items = load_data_specs(args.data)
    if args.ids:
        items = select_ids(items, Path(args.ids))
    predictor = load_predictor(args.model, args.device, args.backend, postprocess, args.triage_threshold)
    tuning = None
    if args.tune:
        tuning = tune_postprocess(predictor, items, args.batch_size)
        store_postprocess(args.model, tuning.chosen)
        predictor.postprocess = tuning.chosen
        print(
            f"tuned post-processing on {tuning.n_images} images: {tuning.chosen.to_dict()} "
            f"(per-image Dice {tuning.per_image_dice:.4f} at the model grid), stored in {args.model}"
        )
    out = Path(args.out)
    evaluation = evaluate(predictor, items, args.batch_size, out / "masks" if args.save_masks else None)
    data = {
        "specs": list(args.data),
        "n_listed": len(items),
        "n_evaluated": len(evaluation.images),
        "n_skipped": len(evaluation.skipped),
    }
    model = model_summary(args.model, predictor.backend.name)
    metrics = write_evaluation(out, evaluation, data, model, tuning.to_dict() if tuning else None)
    print(
        f"{metrics['n_images']} images: Dice per image (SIIM) {_shown(metrics['per_image_dice'])}, pooled "
        f"{_shown(metrics['pooled_dice'])}, IoU pooled {_shown(metrics['pooled_iou'])}, "
        f"AUC {_shown(metrics['auc'])}; report: {out / REPORT_NAME}"
    )
    return 0
