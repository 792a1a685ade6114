"""The measurements of ``benchmarks.gpu_bench`` (kept apart so the script answers "no CUDA" without importing them)."""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from benchmarks.common.model_inputs import (
    mask_agreement,
    max_probability_difference,
    phantom_batch,
    phantom_training_items,
)
from benchmarks.common.report import format_table
from benchmarks.common.timing import summarize, time_ms
from ptxseg.inference.runtimes import TorchBackend
from ptxseg.model.checkpoint import load_model
from ptxseg.model.network import DEFAULT_ENCODER, build_architecture
from ptxseg.training.config import TrainConfig
from ptxseg.training.loop import TrainingRun

__all__ = ["run_benchmark", "print_results"]

FULL = {"size": 512, "batch": 32, "steps": 20, "encoder": DEFAULT_ENCODER, "phantoms": 64}
DRY_RUN = {"size": 64, "batch": 2, "steps": 2, "encoder": "efficientnet-b0", "phantoms": 4}
COLUMNS = [("what", "what"), ("images_per_s", "images/s"), ("median_ms", "median ms/batch"), ("note", "note")]


def _device_info(device: torch.device) -> dict:
    if device.type != "cuda":
        return {"name": "CPU (dry run)", "memory_gb": None}
    properties = torch.cuda.get_device_properties(device)
    return {"name": properties.name, "memory_gb": round(properties.total_memory / 1e9, 1)}


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed_epochs(run: TrainingRun, epochs: int, device: torch.device) -> dict:
    """Images/s and data-wait share of ``epochs`` epochs after one untimed warm-up epoch."""
    run.train_epoch(None, progress=False)
    _synchronize(device)
    images, waited, started = 0, 0.0, time.perf_counter()
    for _ in range(epochs):
        losses, data_wait, _ = run.train_epoch(None, progress=False)  # loss.item() syncs every step
        images += len(losses) * run.config.batch_size
        waited += data_wait
    seconds = time.perf_counter() - started
    return {"images_per_s": round(images / seconds, 1), "data_wait_share": round(waited / seconds, 3)}


def _training(shape: dict, device: torch.device, folder: Path, workers: int) -> list[dict]:
    config = TrainConfig(
        image_size=shape["size"],
        batch_size=shape["batch"],
        encoder=shape["encoder"],
        device=str(device),
        num_workers=workers,
        max_steps_per_epoch=shape["steps"],
    )
    items = phantom_training_items(folder, shape["phantoms"], shape["size"])
    run = TrainingRun(items, items[:1], config, init_checkpoint=None)
    loaded = _timed_epochs(run, max(1, shape["steps"] // max(1, run.steps_per_epoch)), device)
    # The same steps on batches already on the device: what the model alone sustains.
    batch = {
        "image": torch.rand(shape["batch"], 1, shape["size"], shape["size"], device=device),
        "label": (torch.rand(shape["batch"], 1, shape["size"], shape["size"], device=device) > 0.9).float(),
    }
    run.loader = DataLoader([batch] * shape["steps"], batch_size=None)
    run.steps_per_epoch = shape["steps"]
    synthetic = _timed_epochs(run, 1, device)
    amp = f"AMP {run.amp_dtype} + channels_last" if run.amp_dtype is not None else "fp32"
    return [
        {"what": f"train, synthetic on-device batches, {amp}", **synthetic, "note": "model ceiling"},
        {
            "what": f"train, phantoms via ptxseg loader ({workers} workers, augmenting)",
            **loaded,
            "note": f"data wait {100 * loaded['data_wait_share']:.0f}%",
        },
    ]


def _inference(model: torch.nn.Module, shape: dict, device: torch.device, repeats: int) -> tuple[list[dict], dict]:
    reference = TorchBackend(copy.deepcopy(model), str(device), fast=False)
    fast = TorchBackend(copy.deepcopy(model), str(device), fast=True)
    rows = []
    for batch_size in (1, shape["batch"]):
        batch = phantom_batch(shape["size"], count=batch_size) if batch_size <= 8 else None
        if batch is None:  # phantoms are slow to draw; repeat a few real ones to fill a large batch
            few = phantom_batch(shape["size"], count=4)
            batch = few[[index % 4 for index in range(batch_size)]]
        for label, backend in (("fp32 NCHW", reference), ("AMP + channels_last", fast)):
            timing = summarize(time_ms(lambda backend=backend, batch=batch: backend(batch), repeats, warmup=2))
            rows.append(
                {
                    "what": f"infer batch {batch_size}, {label} ({backend.name})",
                    "images_per_s": round(1000 * batch_size / timing["median_ms"], 1),
                    "median_ms": timing["median_ms"],
                    "note": "includes host<->device copies",
                }
            )
    sample = phantom_batch(shape["size"], count=8)
    reference_logits, fast_logits = reference(sample), fast(sample)
    agreement = {
        "mask_dice": round(mask_agreement(reference_logits, fast_logits), 4),
        "max_prob_diff": round(max_probability_difference(reference_logits, fast_logits), 4),
    }
    return rows, agreement


def run_benchmark(args: argparse.Namespace) -> dict:
    """Everything on one device; returns the results."""
    device = torch.device("cuda" if torch.cuda.is_available() and not args.cpu_dry_run else "cpu")
    shape = dict(DRY_RUN if args.cpu_dry_run else FULL)
    if args.model:
        model, metadata = load_model(args.model)
        shape["size"], weights = metadata.image_size, f"trained checkpoint {args.model}"
    else:
        model = build_architecture(shape["encoder"]).eval()
        weights = f"RANDOM-INIT {shape['encoder']}: mask agreement is a numerical check only, not segmentation quality"
    torch.backends.cudnn.benchmark = args.cudnn_benchmark
    started = time.perf_counter()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    with tempfile.TemporaryDirectory(prefix="ptxseg-gpu-bench-") as folder:
        rows = _training(shape, device, Path(folder) / "phantoms", args.workers)
    inference_rows, agreement = _inference(model, shape, device, args.repeats)
    peak = torch.cuda.max_memory_allocated(device) / 1e9 if device.type == "cuda" else None
    return {
        "benchmark": "gpu",
        "device": {**_device_info(device), "peak_allocated_gb": round(peak, 2) if peak else None},
        "torch": torch.__version__,
        "shape": shape,
        "weights": weights,
        "cudnn_benchmark": args.cudnn_benchmark,
        "rows": rows + inference_rows,
        "agreement": agreement,
        "seconds": round(time.perf_counter() - started, 1),
    }


def print_results(results: dict) -> None:
    """The human-readable report."""
    device = results["device"]
    print(f"device: {device['name']}, memory {device['memory_gb']} GB, peak allocated {device['peak_allocated_gb']} GB")
    print(f"torch {results['torch']}; cudnn.benchmark {results['cudnn_benchmark']}; shape {results['shape']}")
    print(f"weights: {results['weights']}")
    print(format_table(results["rows"], COLUMNS))
    agreement = results["agreement"]
    print(f"fast vs fp32 masks: Dice {agreement['mask_dice']}, max |dp| {agreement['max_prob_diff']}")
    print(f"total {results['seconds']} s")
