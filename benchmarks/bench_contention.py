"""Inference latency while the same CPU trains: what an annotator waits for while a fine-tune runs on the server.

Times the library's read + predict + write of a DICOM phantom (the served CPU runtime) on a quiet machine, then
while a second process trains the U-Net (forward, backward, Adam step, as ``ptxseg.training.loop`` does) with every core
and with one core left free. On 2 cores the difference is the case for giving the trainer ``cores - 1`` threads.

    python -m benchmarks.bench_contention
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from benchmarks.common.machine import describe_machine
from benchmarks.common.report import finish, print_setup_table
from benchmarks.common.studies import write_dicom_studies
from benchmarks.common.timing import summarize, time_ms
from ptxseg.inference.predictor import Predictor
from ptxseg.io.labels import write_label
from ptxseg.io.reader import read_cxr
from ptxseg.model.checkpoint import CheckpointMetadata, save_checkpoint
from ptxseg.model.network import DEFAULT_ENCODER, build_architecture

__all__ = ["main", "train_forever"]

COLUMNS = [("scenario", "scenario"), ("median_ms", "median ms"), ("p95_ms", "p95 ms"), ("slowdown", "x quiet")]
for _name in ("preprocess", "forward", "postprocess"):
    COLUMNS.append((_name, f"{_name} ms"))


def train_forever(encoder: str, size: int, batch_size: int, threads: int) -> None:
    """The competing load: training steps of the U-Net until killed."""
    torch.set_num_threads(threads)
    model = build_architecture(encoder)
    optimizer = torch.optim.Adam(model.parameters())
    images = torch.rand(batch_size, 1, size, size)
    step = 0
    while True:
        optimizer.zero_grad()
        model(images).mean().backward()
        optimizer.step()
        step += 1
        if step == 1:
            print("training", flush=True)  # tells the benchmark the load is on


def _trainer(args: argparse.Namespace, threads: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "benchmarks.bench_contention", "--train-forever", "--threads", str(threads)]
    command += ["--encoder", args.trainer_encoder, "--trainer-size", str(args.trainer_size)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    if process.stdout.readline().strip() != "training":
        process.kill()
        raise RuntimeError("the competing trainer did not start; run it alone with --train-forever to see why")
    return process


def run_benchmark(args: argparse.Namespace) -> dict:
    """Time the library path quiet and under each trainer configuration."""
    cores = os.cpu_count() or 1
    scenarios = [("quiet", None), (f"trainer on all {cores} cores", cores)]
    if cores > 1:
        scenarios.append((f"trainer on {cores - 1} of {cores} cores", cores - 1))
    rows = []
    with tempfile.TemporaryDirectory(prefix="ptxseg-bench-contention-") as folder:
        workdir = Path(folder)
        model = build_architecture(args.encoder).eval()
        checkpoint = save_checkpoint(
            workdir / "model.safetensors", model, CheckpointMetadata(encoder=args.encoder, image_size=args.size)
        )
        dicom = write_dicom_studies(workdir, args.image_side)[0]
        predictor = Predictor.from_checkpoint(checkpoint, device="cpu")
        stages = []

        def library_path() -> None:
            image = read_cxr(dicom)
            prediction = predictor.predict(image)
            write_label(prediction.mask, like=image, path=workdir / "label.nrrd")
            stages.append(prediction.timings_ms)

        for scenario, threads in scenarios:
            trainer = _trainer(args, threads) if threads else None
            try:
                stages.clear()
                timing = summarize(time_ms(library_path, args.repeats, warmup=2))
            finally:
                if trainer is not None:
                    trainer.kill()
                    trainer.wait()
            split = {name: round(float(np.median([item[name] for item in stages[2:]])), 1) for name in stages[0]}
            rows.append({"scenario": scenario, **timing, **split})
    for row in rows:
        row["slowdown"] = round(row["median_ms"] / rows[0]["median_ms"], 2)
    return {
        "benchmark": "contention",
        "machine": describe_machine(),
        "setup": (
            f"read + predict + write of a {args.image_side} px DICOM phantom, {args.encoder} at {args.size} "
            f"({predictor.backend.name}); trainer: {args.trainer_encoder} at {args.trainer_size} px, batch 8"
        ),
        "rows": rows,
    }


def print_results(results: dict) -> None:
    """The human-readable report."""
    print_setup_table(results, COLUMNS)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_contention", description=__doc__.split("\n\n")[0])
    parser.add_argument("--encoder", default=DEFAULT_ENCODER, help="the served model's encoder")
    parser.add_argument("--size", type=int, default=512, help="the served model's input side")
    parser.add_argument("--image-side", type=int, default=1024, help="rows and columns of the DICOM phantom")
    parser.add_argument("--trainer-encoder", default=DEFAULT_ENCODER)
    parser.add_argument("--trainer-size", type=int, default=128, help="training image side of the competing load")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--train-forever", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or, with the hidden --train-forever, be the competing trainer)."""
    args = parse_args(argv)
    if args.train_forever:
        train_forever(args.trainer_encoder, args.trainer_size, 8, args.threads)
        return 0
    return finish(run_benchmark(args), print_results, args.json)


if __name__ == "__main__":
    sys.exit(main())
