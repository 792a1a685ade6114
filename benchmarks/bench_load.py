"""Inference latency under load: 16 concurrent /infer alone, and again while the server fine-tunes and scores.

Each request is timed from the client. The server serialises forwards (one compiled CPU model, every core), so
16 concurrent requests queue: the interesting numbers are how much longer that queue gets when a training run (on
every core but one, conf ``train_threads``) and a scoring run compete for the CPU, and that every answer stays
equal to the quiet one (checked here and asserted in tests/reliability/test_reliability_load_training.py).

    python -m benchmarks.bench_load --encoder efficientnet-b0 --size 256
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from benchmarks.common.load import infer_concurrently, infer_one, start_training_and_scoring
from benchmarks.common.machine import describe_machine
from benchmarks.common.report import finish, print_setup_table
from ptxseg.phantom.demo import make_demo_studies
from ptxseg.serving.local_server import running_server

__all__ = ["main", "run_benchmark"]

COLUMNS = [
    ("scenario", "scenario"),
    ("median_s", "median s"),
    ("max_s", "max s"),
    ("x_alone", "x concurrent alone (max)"),
    ("equal", "answers equal to quiet"),
]


def _row(scenario: str, answers, quiet) -> dict:
    seconds = [answer.seconds for answer in answers]
    equal = sum(a.result == q.result and a.label == q.label for a, q in zip(answers, quiet, strict=True))
    return {"scenario": scenario, "median_s": statistics.median(seconds), "max_s": max(seconds), "equal": equal}


def run_benchmark(args: argparse.Namespace) -> dict:
    """One server: the requests one by one, all at once, then all at once under training and scoring."""
    conf = {"encoder": args.encoder, "image_size": str(args.size), "measure_runtimes": "false"}
    with tempfile.TemporaryDirectory(prefix="ptxseg-bench-load-") as folder:
        studies = make_demo_studies(Path(folder) / "studies", n=args.requests, size=args.size)
        with running_server(studies, Path(folder) / "model", conf) as server:
            objects = server.get("/datastore/?output=all").json()["objects"]
            image_ids = sorted(
                key for key, entry in objects.items() if not entry["image"]["info"].get("ptx_unreadable")
            )
            image_ids = image_ids[: args.requests]
            quiet = [infer_one(server, image_id) for image_id in image_ids]
            rows = [
                _row("one at a time", quiet, quiet),
                _row("concurrent, server idle", infer_concurrently(server, image_ids), quiet),
            ]
            start_training_and_scoring(server, epochs=args.epochs)
            rows.append(_row("concurrent, training + scoring", infer_concurrently(server, image_ids), quiet))
            server.delete("/train/")
    for row in rows:
        row["x_alone"] = round(row["max_s"] / rows[1]["max_s"], 2)
        row["median_s"], row["max_s"] = round(row["median_s"], 3), round(row["max_s"], 3)
    return {
        "benchmark": "load",
        "machine": describe_machine(),
        "setup": (
            f"{args.requests} demo studies at {args.size} px, {args.encoder} U-Net (untrained, served by the default "
            f"CPU runtime); training: the app's fine-tuning on the demo labels, {args.epochs} epochs"
        ),
        "rows": rows,
    }


def print_results(results: dict) -> None:
    """The human-readable report."""
    print_setup_table(results, COLUMNS)
    loaded = results["rows"][-1]
    print(f"under training + scoring: slowest answer {loaded['max_s']:.2f} s ({loaded['x_alone']}x the idle server's)")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--encoder", default="efficientnet-b0")
    parser.add_argument("--size", type=int, default=256, help="model input side and demo image side")
    parser.add_argument("--requests", type=int, default=16, help="concurrent requests (and demo studies)")
    parser.add_argument("--epochs", type=int, default=50, help="the training run's epochs (it is stopped after)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the report and write ``--json``."""
    args = parse_args(argv)
    return finish(run_benchmark(args), print_results, args.json)


if __name__ == "__main__":
    sys.exit(main())
