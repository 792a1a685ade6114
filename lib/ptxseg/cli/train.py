"""``ptxseg train``: the paper's recipe from the command line, single process or under ``torchrun`` (DDP)."""

from __future__ import annotations

import argparse

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
    parser.add_argument("--seed", type=int, default=0, help="seed of the split, initialisation and sampling")
    parser.add_argument("--image-size", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--lr", type=float, default=1e-4, help="initial learning rate (cosine decay)")
    parser.add_argument("--min-lr", type=float, default=1e-6)
    parser.add_argument("--patience", type=int, default=20, help="early stopping: epochs without improvement")
    # Not "--monitor": torchrun would read that as an abbreviation of its own --monitor-interval.
    parser.add_argument(
        "--monitor-metric",
        default="pooled_iou",
        choices=("pooled_iou", "pooled_dice", "per_image_dice"),
        help="validation metric for early stopping and the best checkpoint (default: pooled_iou, as the paper)",
    )
    parser.add_argument("--threshold", type=float, default=0.5, help="probability threshold for validation masks")
    parser.add_argument("--dice-weight", type=float, default=1.0, help="weight of the Dice term of the loss")
    parser.add_argument("--bce-weight", type=float, default=1.0, help="weight of the BCE term of the loss")
    parser.add_argument("--encoder", default="efficientnet-b4")
    parser.add_argument("--encoder-weights", help="local ImageNet weights file for the encoder (no download)")
    parser.add_argument(
        "--dropout",
        type=float,
        default=0.0,
        help="decoder dropout of a new model (> 0 allows MC-dropout uncertainty); with --init the checkpoint's is kept",
    )
    parser.add_argument("--init", help="start from this checkpoint's weights (fine-tuning)")
    parser.add_argument("--resume", help="continue an interrupted run from its last_state.pt")
    parser.add_argument("--no-augment", action="store_true", help="switch the heavy augmentation off")
    parser.add_argument("--no-amp", action="store_true", help="full fp32 on GPU")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda[:N]")
    parser.add_argument("--workers", type=int, default=0, help="data loader worker processes")
    parser.add_argument("--max-steps-per-epoch", type=int, help="cap the steps of each epoch (smoke tests)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Load the data, split it, train, and write the run folder (rank 0 only)."""
    from pathlib import Path

    from ptxseg.compute import distributed
    from ptxseg.datasets.specs import load_data_specs
    from ptxseg.datasets.splits import random_split, split_by_ids
    from ptxseg.training.config import TrainConfig
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
        config = TrainConfig(
            image_size=args.image_size,
            batch_size=args.batch_size,
            epochs=args.epochs,
            learning_rate=args.lr,
            min_learning_rate=args.min_lr,
            patience=args.patience,
            monitor=args.monitor_metric,
            threshold=args.threshold,
            dice_weight=args.dice_weight,
            bce_weight=args.bce_weight,
            augment=not args.no_augment,
            amp=not args.no_amp,
            device=args.device,
            num_workers=args.workers,
            seed=args.seed,
            max_steps_per_epoch=args.max_steps_per_epoch,
            encoder=args.encoder,
            encoder_weights=args.encoder_weights,
            dropout=args.dropout,
        )
        out = Path(args.out)
        log = None
        if distributed.rank() == 0:
            log = TrainingLog(out)
            (out / "val_ids.txt").write_text("".join(f"{item.image_id}\n" for item in val_items))
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
