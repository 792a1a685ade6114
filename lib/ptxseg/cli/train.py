"""``ptxseg train``: the paper's recipe from the command line, single process or under ``torchrun`` (DDP)."""

from __future__ import annotations

import argparse

from ptxseg.training.config import DEFAULT_ENSEMBLE, TrainConfig

__all__ = ["register", "run"]


def register(commands: argparse._SubParsersAction) -> None:
    """Add the ``train`` command to the ``ptxseg`` parser."""
    parser = commands.add_parser(
        "train",
        help="train the U-Net (the paper's recipe by default)",
        description="Train the EfficientNet-B4 U-Net: 512x512, Dice+BCE, heavy augmentation, Adam 1e-4 with cosine "
        "decay to 1e-6, batch 32, up to 300 epochs, early stopping on validation IoU (patience 20). Under "
        "'torchrun --nproc_per_node N -m ptxseg train ...' it trains with PyTorch DDP (NCCL on GPU, gloo on CPU); "
        "--batch-size is then the global batch.",
    )
    parser.add_argument(
        "--data",
        action="append",
        required=True,
        metavar="SPEC",
        help="siim:DICOM_DIR,RLE_CSV | ptx498:ROOT | folder:IMAGES_DIR,MASKS_DIR | monailabel:STUDIES_DIR (repeatable)",
    )
    parser.add_argument("--out", required=True, help="run folder: best.safetensors, last_state.pt, logs, curves")
    split = parser.add_mutually_exclusive_group()
    split.add_argument("--val-data", action="append", metavar="SPEC", help="a separate validation set")
    split.add_argument("--val-ids", help="file of validation image ids (one per line or an ImageId CSV column)")
    split.add_argument("--val-fraction", type=float, default=0.1, help="random validation share (default 0.1)")
    TrainConfig.add_arguments(parser)
    parser.add_argument(
        "--kind",
        choices=("unet", "ensemble", "two_stage"),
        default="unet",
        help="unet (the paper's model), ensemble (one U-Net per --members encoder, averaged with flip-TTA, triplet "
        "thresholds) or two_stage (an --encoder classifier gating an --encoder U-Net); default: unet",
    )
    parser.add_argument(
        "--members",
        default=",".join(DEFAULT_ENSEMBLE),
        help=f"the ensemble's encoders, comma-separated (default: {','.join(DEFAULT_ENSEMBLE)})",
    )
    parser.add_argument("--init", help="start from this model's weights (fine-tuning; any kind, as --kind)")
    parser.add_argument("--resume", help="continue an interrupted run from its last_state.pt")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Load the data, split it, train, and write the run folder (rank 0 only)."""
    from pathlib import Path

    from ptxseg.compute import distributed
    from ptxseg.datasets.specs import load_data_specs
    from ptxseg.datasets.splits import random_split, split_by_ids
    from ptxseg.training.log import TrainingLog
    from ptxseg.training.loop import train

    if args.init and args.dropout:
        raise ValueError("--dropout sets a new model's architecture; with --init the checkpoint's own dropout is kept")
    distributed.init_from_environment()
    try:
        items = load_data_specs(args.data)
        if args.val_data:
            train_items, val_items = items, load_data_specs(args.val_data)
        elif args.val_ids:
            train_items, val_items = split_by_ids(items, Path(args.val_ids))
        else:
            train_items, val_items = random_split(items, args.val_fraction, args.seed)
        config = TrainConfig.from_arguments(args)
        out = Path(args.out)
        log = None
        if distributed.rank() == 0:
            log = TrainingLog(out)
            _write_val_ids(out, val_items)
        if args.kind != "unet":
            return _train_recipe(args, train_items, val_items, config, out)
        summary = {"specs": args.data, "train": len(train_items), "validation": len(val_items)}
        result = train(
            train_items,
            val_items,
            config,
            out,
            init_checkpoint=Path(args.init) if args.init else None,
            data_summary=summary,
            on_epoch=log.record if log else None,
            resume=Path(args.resume) if args.resume else None,
            progress=True,
        )
        if log:
            log.close()
            print(f"best checkpoint: {result.checkpoint}  ({config.monitor} {result.best_metrics.get(config.monitor)})")
            print(f"epochs: {result.epochs_run}{' (early stop)' if result.stopped_early else ''}; curves: {log.curve}")
        return 0
    finally:
        distributed.shutdown()


def _train_recipe(args: argparse.Namespace, train_items, val_items, config: TrainConfig, out) -> int:
    """An ensemble or two-stage model: every member trained, the bundle judged as a whole (single process)."""
    from pathlib import Path

    from ptxseg.compute import distributed
    from ptxseg.training.recipes import train_recipe

    if distributed.world_size() > 1:
        raise ValueError(f"--kind {args.kind} trains in one process; run it without torchrun")
    _write_val_ids(out, val_items)
    members = [name.strip() for name in args.members.split(",") if name.strip()]
    init = Path(args.init) if args.init else None
    result = train_recipe(args.kind, train_items, val_items, config, out, members, init)
    print(f"{args.kind} model: {result.checkpoint}  (validation as a whole: {result.metrics})")
    for member in result.member_metrics:
        print(f"  member {member['encoder']}: {member}")
    return 0


def _write_val_ids(out, val_items) -> None:
    """The validation ids, so that evaluate/compare can judge on the same held-out images (``--ids``)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "val_ids.txt").write_text("".join(f"{item.image_id}\n" for item in val_items))
