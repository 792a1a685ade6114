"""Model forward on CPU: the naive PyTorch fp32 NCHW forward against every fast path, same process, same input.

Paths: PyTorch channels_last (fp32, then with bf16 autocast), ONNX Runtime fp32, OpenVINO fp32 and bf16 (the last
only where the CPU has native bf16), all built through ``ptxseg.inference.runtimes`` on one ONNX export. Each is
timed as the median of ``--repeats`` batch-1 forwards after warm-up and compared with the naive forward: speed ratio,
and the Dice of its thresholded masks against the fp32 masks on ``--agreement-images`` phantoms.

    python -m benchmarks.bench_model                                   # random-init EfficientNet-B4 at 512
    python -m benchmarks.bench_model --model runs/b4/best.safetensors  # a trained model at its own size
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.common.machine import describe_machine, machine_lines
from benchmarks.common.model_inputs import mask_agreement, max_probability_difference, phantom_batch
from benchmarks.common.model_under_test import add_model_arguments, model_under_test
from benchmarks.common.report import finish, format_table, verdict
from benchmarks.common.timing import summarize, time_ms
from ptxseg.compute.device import cpu_supports_bf16
from ptxseg.inference.calibration import runtime_inputs
from ptxseg.inference.int8 import cached_int8_model
from ptxseg.inference.runtime_choice import decided_runtime
from ptxseg.inference.runtimes import OnnxRuntimeBackend, OpenVINOBackend, TorchBackend
from ptxseg.model.onnx import cached_onnx_export

__all__ = ["main", "run_benchmark", "FAST_PATH_TARGET"]

FAST_PATH_TARGET = 0.15  # the target: the served CPU path at most 0.15x the naive fp32 forward
COLUMNS = [
    ("path", "path"),
    ("backend", "backend"),
    ("median_ms", "median ms"),
    ("p95_ms", "p95 ms"),
    ("ratio", "x naive"),
    ("mask_dice", "mask Dice vs fp32"),
    ("max_prob_diff", "max |dp|"),
    ("build_s", "build s"),
    ("first_call_ms", "first call ms"),
]


class ChannelsLastTorch:
    """PyTorch fp32 in channels_last memory format: isolates the layout gain from the bf16 gain."""

    def __init__(self, model: torch.nn.Module):
        self.model = model.eval().to(memory_format=torch.channels_last)
        self.name = "torch-cpu-channels_last-fp32"

    @torch.inference_mode()
    def __call__(self, batch: np.ndarray) -> np.ndarray:
        tensor = torch.from_numpy(np.ascontiguousarray(batch, np.float32)).contiguous(memory_format=torch.channels_last)
        return self.model(tensor).float().numpy()


def _int8(onnx_path: Path, checkpoint: Path, size: int, threads: int | None) -> OpenVINOBackend:
    """OpenVINO int8 as the server builds it: NNCF on phantom inputs, cached beside the checkpoint (its build time
    includes the calibration when the cache is cold)."""
    inputs = runtime_inputs(size)
    return OpenVINOBackend(
        cached_int8_model(onnx_path, checkpoint, size, inputs.calibration, inputs.source), threads=threads, int8=True
    )


def _paths(
    model: torch.nn.Module, onnx_path: Path, checkpoint: Path, size: int, threads: int | None
) -> list[tuple[str, object]]:
    """(label, factory) for every path; each factory gets its own copy of the model (backends change it)."""
    paths = [
        ("PyTorch fp32 NCHW (naive)", lambda: TorchBackend(copy.deepcopy(model), "cpu", fast=False)),
        ("PyTorch channels_last fp32", lambda: ChannelsLastTorch(copy.deepcopy(model))),
        ("PyTorch channels_last + bf16 autocast", lambda: TorchBackend(copy.deepcopy(model), "cpu", fast=True)),
        ("ONNX Runtime fp32", lambda: OnnxRuntimeBackend(onnx_path, threads=threads)),
        ("OpenVINO fp32", lambda: OpenVINOBackend(onnx_path, "f32", threads=threads)),
    ]
    if cpu_supports_bf16():
        paths.append(("OpenVINO bf16", lambda: OpenVINOBackend(onnx_path, "bf16", threads=threads)))
    paths.append(("OpenVINO int8 (NNCF)", lambda: _int8(onnx_path, checkpoint, size, threads)))
    return paths


def run_benchmark(args: argparse.Namespace) -> dict:
    """Build every path, time it and compare its masks with the naive fp32 forward; returns the results."""
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="ptxseg-bench-model-") as workdir:
        model, checkpoint, size, label = model_under_test(args.model, args.encoder, args.size, Path(workdir))
        batch = phantom_batch(size, count=args.agreement_images)
        single = batch[:1]
        started = time.perf_counter()
        onnx_path = cached_onnx_export(model, size, checkpoint)
        export_s = time.perf_counter() - started
        decision = decided_runtime(checkpoint, size, threads=args.threads)
        rows, reference = [], None
        for path_label, factory in _paths(model, onnx_path, checkpoint, size, args.threads):
            started = time.perf_counter()
            backend = factory()
            build_s = time.perf_counter() - started
            first_call_ms = time_ms(lambda backend=backend: backend(single), repeats=1, warmup=0)[0]
            logits = backend(batch)
            reference = logits if reference is None else reference
            timing = summarize(time_ms(lambda backend=backend: backend(single), args.repeats, args.warmup))
            rows.append(
                {
                    "path": path_label,
                    "backend": backend.name,
                    **timing,
                    "mask_dice": round(mask_agreement(reference, logits), 4),
                    "max_prob_diff": round(max_probability_difference(reference, logits), 4),
                    "build_s": round(build_s, 2),
                    "first_call_ms": round(first_call_ms, 1),
                    "served": backend.name == decision.chosen,
                }
            )
    naive_ms = rows[0]["median_ms"]
    for row in rows:
        row["ratio"] = round(row["median_ms"] / naive_ms, 3)
    served = next(row for row in rows if row["served"])
    return {
        "benchmark": "model",
        "machine": describe_machine(),
        "weights": label,
        "trained": bool(args.model),
        "input": f"batch 1 x 1 x {size} x {size} phantom, fitted and normalised as ptxseg.Predictor does",
        "repeats": args.repeats,
        "warmup": args.warmup,
        "threads": args.threads or "runtime default",
        "onnx_export_s": round(export_s, 2),
        "rows": rows,
        "served_backend": decision.chosen,
        "runtime_decision": decision.reason,
        "targets": [verdict(f"served CPU path ({decision.chosen}) vs naive", served["ratio"], FAST_PATH_TARGET, "x")],
    }


def print_results(results: dict) -> None:
    """The human-readable report: machine, weights, table, ratios and target verdicts."""
    for line in machine_lines(results["machine"]):
        print(line)
    print(f"weights: {results['weights']}")
    print(f"input: {results['input']}; median of {results['repeats']} after {results['warmup']} warm-up")
    print(f"threads: {results['threads']}; ONNX export {results['onnx_export_s']} s (once per checkpoint, cached)")
    print(format_table(results["rows"], COLUMNS))
    fastest = min(results["rows"], key=lambda row: row["median_ms"])
    print(f"fastest: {fastest['path']} at {fastest['ratio']:.3f}x naive ({1 / fastest['ratio']:.1f}x faster)")
    print(f"ptxseg serves on this CPU: {results['served_backend']} ({results['runtime_decision']})")
    for target in results["targets"]:
        print(target["line"])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_model", description=__doc__.split("\n\n")[0])
    add_model_arguments(parser)
    parser.add_argument("--repeats", type=int, default=10, help="timed forwards per path (median reported)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed forwards per path before timing")
    parser.add_argument("--agreement-images", type=int, default=4, help="phantoms for the mask agreement")
    parser.add_argument("--threads", type=int, help="CPU threads for every runtime (default: each one's own)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the report and write ``--json``."""
    args = parse_args(argv)
    return finish(run_benchmark(args), print_results, args.json)


if __name__ == "__main__":
    sys.exit(main())
