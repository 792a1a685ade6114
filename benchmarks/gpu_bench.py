"""One script for a lent GPU (under 5 minutes): training and inference throughput, and fast-path correctness.

* training images/s at 512x512, batch 32, AMP (fp16 autocast + channels_last), EfficientNet-B4, through
  ``ptxseg.training.loop.TrainingRun``: on synthetic GPU-resident batches (the model's ceiling) and on phantoms
  through the library's augmenting data loader (what a run gets, with its data-wait share);
* inference images/s at batch 1 and 32, fp32 NCHW against AMP + channels_last
  (``ptxseg.inference.runtimes.TorchBackend``);
* Dice of the fast path's thresholded masks against fp32 masks (random init unless ``--model``);
* GPU name, memory and peak memory used.

Without a CUDA device it says so and exits 0; ``--cpu-dry-run`` runs the same code on CPU at a tiny size.

    python -m benchmarks.gpu_bench --json gpu.json
"""

from __future__ import annotations

import argparse
import os
import sys

import torch

from benchmarks.common.report import finish

__all__ = ["main"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--cpu-dry-run", action="store_true", help="run the code path on CPU at a tiny size")
    parser.add_argument("--model", help="trained checkpoint for the mask agreement (default: random init)")
    parser.add_argument("--repeats", type=int, default=10, help="timed inference calls per row")
    parser.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1), help="data loader workers")
    parser.add_argument("--cudnn-benchmark", action="store_true", help="let cuDNN pick kernels by timing them")
    parser.add_argument("--json", help="also write the results to this JSON file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run on the GPU (or the CPU dry run); without CUDA say so and exit cleanly."""
    args = parse_args(argv)
    if not torch.cuda.is_available() and not args.cpu_dry_run:
        print("no CUDA device: nothing to measure here (run on a GPU machine, or use --cpu-dry-run to check the code)")
        return 0
    # Imported only now: ptxseg's training stack takes seconds to import, and a machine without a GPU needs none.
    from benchmarks.gpu_measure import print_results, run_benchmark

    return finish(run_benchmark(args), print_results, args.json)


if __name__ == "__main__":
    sys.exit(main())
