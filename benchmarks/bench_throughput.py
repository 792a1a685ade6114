"""Throughput over a folder of 1024x1024 DICOMs (images/s), batched with decode overlapped, beside one-at-a-time.

The folder is written once (12-bit DICOM phantoms), the served CPU runtime is the one ``ptxseg`` measures and
serves (``ptxseg.inference.runtime_choice``), and every row reads every file:

- prediction (what ``ptxseg predict`` and PACS pre-screening do): one image at a time (read, predict, write the
  mask; nothing overlapped), then ``ptxseg.inference.batch.predict_files`` at each ``--batch-sizes`` (the next
  batch is decoded in a thread while this one is computed);
- scoring (active learning, worklist triage): ``score_images`` one image at a time, then batched with the same
  overlapped reads (``prefetched_batches``).

    python -m benchmarks.bench_throughput --images 16 --batch-sizes 1 4 8
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.common.machine import describe_machine
from benchmarks.common.model_under_test import add_model_arguments, model_under_test
from benchmarks.common.report import finish, print_setup_table
from benchmarks.common.studies import write_dicom_studies
from ptxseg.inference.batch import predict_files
from ptxseg.inference.predictor import Predictor
from ptxseg.inference.prefetch import prefetched_batches
from ptxseg.inference.runtime_choice import decided_runtime, served_runtime
from ptxseg.inference.scoring import score_images
from ptxseg.io.masks import write_mask
from ptxseg.io.reader import image_id, read_cxr

__all__ = ["main", "run_benchmark"]

COLUMNS = [
    ("what", "what"),
    ("batch", "batch"),
    ("images_per_s", "images/s"),
    ("ms_per_image", "ms / image"),
    ("vs_one_at_a_time", "x one-at-a-time images/s"),
]


def _images_per_s(run: Callable[[], None], count: int) -> tuple[float, float]:
    started = time.perf_counter()
    run()
    elapsed = time.perf_counter() - started
    return round(count / elapsed, 2), round(1000 * elapsed / count, 1)


def _prediction_rows(predictor: Predictor, paths: list[Path], out: Path, batch_sizes: list[int]) -> list[dict]:
    def one_at_a_time() -> None:
        for path in paths:
            image = read_cxr(path)
            write_mask(predictor.predict(image).mask, image, out, image_id(path), "png")

    rows = [("predict: read, predict, write one at a time", 1, one_at_a_time)]
    for size in batch_sizes:
        rows.append(
            (
                "predict_files (reads overlapped)",
                size,
                lambda size=size: predict_files(predictor, paths, out, batch_size=size),
            )
        )
    return _timed(rows, len(paths))


def _scoring_rows(predictor: Predictor, paths: list[Path], batch_sizes: list[int]) -> list[dict]:
    def one_at_a_time() -> None:
        for path in paths:
            score_images(predictor, [read_cxr(path)])

    def batched(size: int) -> None:
        for _, loaded in prefetched_batches(paths, size, read_cxr):
            score_images(predictor, loaded)

    rows = [("score: read, score one at a time", 1, one_at_a_time)]
    rows += [("score_images (reads overlapped)", size, lambda size=size: batched(size)) for size in batch_sizes]
    return _timed(rows, len(paths))


def _timed(plan: list[tuple[str, int, Callable[[], None]]], count: int) -> list[dict]:
    rows = []
    for what, batch, run in plan:
        images_per_s, ms_per_image = _images_per_s(run, count)
        rows.append({"what": what, "batch": batch, "images_per_s": images_per_s, "ms_per_image": ms_per_image})
    baseline = rows[0]["images_per_s"]
    for row in rows:
        row["vs_one_at_a_time"] = round(row["images_per_s"] / baseline, 2)
    return rows


def run_benchmark(args: argparse.Namespace) -> dict:
    """Write the folder, build the served runtime, warm it, and time every row over every file."""
    with tempfile.TemporaryDirectory(prefix="ptxseg-bench-throughput-") as folder:
        workdir = Path(folder)
        model, checkpoint, size, label = model_under_test(args.model, args.encoder, args.size, workdir)
        paths = write_dicom_studies(workdir / "studies", args.image_side, args.images)
        decision = decided_runtime(checkpoint, size, threads=args.threads)
        runtime = served_runtime(decision, checkpoint, model, size, args.threads)
        predictor = Predictor(runtime, size)
        predictor.predict(read_cxr(paths[0]))  # compile and allocate before timing
        out = workdir / "masks"
        out.mkdir()
        rows = _prediction_rows(predictor, paths, out, args.batch_sizes)
        shutil.rmtree(out)
        rows += _scoring_rows(predictor, paths, args.batch_sizes)
    return {
        "benchmark": "throughput",
        "machine": describe_machine(),
        "setup": (
            f"{args.images} DICOM phantoms {args.image_side}x{args.image_side} (12-bit), model input {size}, "
            f"runtime {decision.chosen} (measured: {decision.reason}); weights: {label}"
        ),
        "served_backend": decision.chosen,
        "rows": rows,
    }


def print_results(results: dict) -> None:
    """Machine, setup, the table of images/s with ratios to one-at-a-time."""
    print_setup_table(results, COLUMNS)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_throughput", description=__doc__.split("\n\n")[0])
    add_model_arguments(parser)
    parser.add_argument("--image-side", type=int, default=1024, help="side of the DICOM files (pixels)")
    parser.add_argument("--images", type=int, default=16, help="files in the folder")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 4, 8], help="batch sizes to time")
    parser.add_argument("--threads", type=int, help="CPU threads for the runtime (default: its own)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the report and write ``--json``."""
    args = parse_args(argv)
    return finish(run_benchmark(args), print_results, args.json)


if __name__ == "__main__":
    sys.exit(main())
