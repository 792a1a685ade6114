"""CPU fine-tuning in bf16 (autocast + channels_last) against fp32: speed and final validation Dice, same seed.

bf16 is only used where the CPU computes it natively (``ptxseg.compute.device.cpu_supports_bf16``); on other CPUs
this benchmark says so and measures fp32 twice. Both runs train the same U-Net from the same random start on the
same phantoms in the same order (same seed, no augmentation), and are judged in eval mode on the same held-out
phantoms: the Dice must be equal within noise for bf16 to be the default.

    python -m benchmarks.bench_train_precision --encoder efficientnet-b0 --size 128 --epochs 12
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import torch

from benchmarks.common.machine import describe_machine
from benchmarks.common.model_inputs import input_side, phantom_training_items
from benchmarks.common.report import finish, print_setup_table
from ptxseg.training.config import TrainConfig
from ptxseg.training.loop import mixed_precision_dtype, train
from ptxseg.training.validate import evaluate_checkpoint

__all__ = ["main", "run_benchmark"]

COLUMNS = [
    ("precision", "precision"),
    ("images_per_s", "images/s"),
    ("x_fp32", "x fp32 time"),
    ("validation_dice", "val per-image Dice"),
    ("held_out_dice", "held-out per-image Dice"),
]


def run_benchmark(args: argparse.Namespace) -> dict:
    """Train twice, fp32 then mixed precision, and judge both on held-out phantoms."""
    config = TrainConfig(
        image_size=args.size,
        batch_size=args.batch_size,
        epochs=args.epochs,
        learning_rate=1e-3,
        patience=args.epochs,
        monitor="per_image_dice",
        augment=False,
        encoder=args.encoder,
        device="cpu",
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="ptxseg-bench-precision-") as folder:
        items = phantom_training_items(Path(folder) / "phantoms", args.train + 16, args.size)
        train_items, val_items, held_out = items[: args.train], items[args.train : args.train + 8], items[-8:]
        for cpu_bf16 in (False, True):
            run_config = replace(config, cpu_bf16=cpu_bf16)
            result = train(train_items, val_items, run_config, Path(folder) / f"run-{cpu_bf16}")
            seconds = sum(record["seconds"] for record in result.history)
            dtype = mixed_precision_dtype(torch.device("cpu"), run_config)
            rows.append(
                {
                    "precision": str(dtype).replace("torch.", "") if dtype else "fp32",
                    "seconds": seconds,
                    "images_per_s": round(len(result.history) * len(train_items) / seconds, 2),
                    "validation_dice": round(result.best_metrics["per_image_dice"], 4),
                    "held_out_dice": round(evaluate_checkpoint(result.checkpoint, held_out)["per_image_dice"], 4),
                }
            )
    for row in rows:
        row["x_fp32"] = round(row["seconds"] / rows[0]["seconds"], 3)
    return {
        "benchmark": "train_precision",
        "machine": describe_machine(),
        "setup": (
            f"{args.encoder} U-Net from random init (seed 0), {args.size} px phantoms, {args.train} training and 8 "
            f"held-out images, batch {args.batch_size}, {args.epochs} epochs, no augmentation, CPU"
        ),
        "rows": rows,
    }


def print_results(results: dict) -> None:
    """The human-readable report."""
    print_setup_table(results, COLUMNS)
    fp32, mixed = results["rows"]
    difference = mixed["held_out_dice"] - fp32["held_out_dice"]
    print(
        f"{mixed['precision']} fine-tuning: {mixed['x_fp32']:.2f}x the fp32 time; held-out Dice "
        f"{mixed['held_out_dice']:.4f} vs {fp32['held_out_dice']:.4f} (difference {difference:+.4f})"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_train_precision", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--encoder", default="efficientnet-b0")
    parser.add_argument("--size", type=input_side, default=128, help="training image side (multiple of 32)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--train", type=int, default=64, help="training phantoms")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--json", help="also write the results to this JSON file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the report and write ``--json``."""
    args = parse_args(argv)
    return finish(run_benchmark(args), print_results, args.json)


if __name__ == "__main__":
    sys.exit(main())
