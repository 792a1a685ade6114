"""Training throughput on CPU: images per second and the share of step time spent waiting for data.

Two views of the same ``ptxseg.training.loop`` code on phantoms at a small size and batch:

* training steps only (``TrainingRun.train_epoch``): images/s and data-wait share of the steps themselves, after
  one warm-up epoch; this is what faster data loading could win.
* whole epochs through ``ptxseg.training.loop.train``: its history's ``seconds`` and ``data_wait_share``, whose
  epoch time also holds BatchNorm re-estimation and validation.

    python -m benchmarks.bench_train --encoder efficientnet-b4 --size 128 --batch-size 8
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from benchmarks.common.machine import describe_machine
from benchmarks.common.model_inputs import input_side, phantom_training_items
from benchmarks.common.report import finish, print_setup_table
from ptxseg.model.network import DEFAULT_ENCODER
from ptxseg.training.config import TrainConfig
from ptxseg.training.loop import TrainingRun, mixed_precision_dtype, train

__all__ = ["main", "run_benchmark"]

COLUMNS = [
    ("view", "view"),
    ("workers", "workers"),
    ("images_per_s", "images/s"),
    ("data_wait_share", "data wait share"),
    ("seconds", "seconds"),
    ("images", "images"),
]


def _steps_only(run: TrainingRun, epochs: int) -> dict:
    """Time ``epochs`` training epochs after one untimed warm-up epoch."""
    run.train_epoch(None, progress=False)
    images, waited, started = 0, 0.0, time.perf_counter()
    for _ in range(epochs):
        losses, data_wait, _ = run.train_epoch(None, progress=False)
        images += len(losses) * run.config.batch_size
        waited += data_wait
    seconds = time.perf_counter() - started
    return {"images_per_s": images / seconds, "data_wait_share": waited / seconds, "seconds": seconds, "images": images}


def _whole_epochs(train_items, val_items, config: TrainConfig, out_dir: Path) -> dict:
    """Run ``ptxseg.training.loop.train`` and read its own history; the first epoch is left out as warm-up."""
    history = train(train_items, val_items, config, out_dir).history
    timed = history[1:] or history
    seconds = sum(record["seconds"] for record in timed)
    images = len(timed) * config.max_steps_per_epoch * config.batch_size
    share = sum(record["data_wait_share"] * record["seconds"] for record in timed) / seconds
    return {"images_per_s": images / seconds, "data_wait_share": share, "seconds": seconds, "images": images}


def run_benchmark(args: argparse.Namespace) -> dict:
    """Measure both views for each worker count."""
    if args.threads:
        torch.set_num_threads(args.threads)
    machine = describe_machine()
    config = TrainConfig(
        image_size=args.size,
        batch_size=args.batch_size,
        epochs=args.epochs + 1,
        max_steps_per_epoch=args.steps,
        encoder=args.encoder,
        device="cpu",
        patience=args.epochs + 1,
        bn_recalibration_batches=1,
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="ptxseg-bench-train-") as folder:
        items = phantom_training_items(Path(folder) / "phantoms", args.batch_size * args.steps + 4, args.size)
        train_items, val_items = items[:-4], items[-4:]
        for workers in args.workers:
            worker_config = replace(config, num_workers=workers)
            run = TrainingRun(train_items, val_items, worker_config, init_checkpoint=None)
            rows.append({"view": "training steps only", "workers": workers, **_steps_only(run, args.epochs)})
            del run
            whole = _whole_epochs(train_items, val_items, worker_config, Path(folder) / f"run-{workers}")
            rows.append({"view": "ptxseg.training.loop epochs (history)", "workers": workers, **whole})
    for row in rows:
        row["images_per_s"] = round(row["images_per_s"], 2)
        row["data_wait_share"] = round(row["data_wait_share"], 3)
        row["seconds"] = round(row["seconds"], 1)
    return {
        "benchmark": "train",
        "machine": machine,
        "setup": (
            f"{args.encoder} U-Net from random init, {args.size} px phantoms, batch {args.batch_size}, "
            f"{args.steps} steps/epoch, {args.epochs} timed epochs after 1 warm-up, augmentation on, CPU "
            f"{mixed_precision_dtype(torch.device('cpu'), config) or 'fp32'}"
        ),
        "rows": rows,
    }


def print_results(results: dict) -> None:
    """The human-readable report."""
    print_setup_table(results, COLUMNS)
    steps = next(row for row in results["rows"] if row["view"] == "training steps only")
    print(
        f"training: {steps['images_per_s']:.2f} images/s with {steps['workers']} workers; "
        f"{100 * steps['data_wait_share']:.1f}% of step time waiting for data"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--encoder", default=DEFAULT_ENCODER)
    parser.add_argument("--size", type=input_side, default=128, help="training image side (multiple of 32)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=8, help="steps per epoch")
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs (after one warm-up epoch)")
    parser.add_argument("--workers", type=int, nargs="+", default=[0], help="data loader worker counts to compare")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's own, every core)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    if min(args.steps, args.epochs, args.batch_size) < 1:
        parser.error("--steps, --epochs and --batch-size must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the report and write ``--json``."""
    args = parse_args(argv)
    return finish(run_benchmark(args), print_results, args.json)


if __name__ == "__main__":
    sys.exit(main())
