"""The benchmark scripts still run end to end at tiny sizes and print their ratios (so they cannot rot unseen).

Each runs as documented, ``python -m benchmarks.<name>`` from the repository root, with one CPU thread: at 64 px
threads buy nothing, and on a shared machine a second busy process makes two-thread OpenMP crawl.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[2]
TINY_MODEL = ["--encoder", "efficientnet-b0", "--size", "64"]


def run_benchmark(name: str, *arguments: str, timeout: int = 120) -> str:
    """Run one benchmark module; return its standard output, failing with its output when it fails."""
    completed = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{name}", *arguments],
        cwd=REPO_ROOT,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert completed.returncode == 0, f"{name} failed:\n{completed.stdout}\n{completed.stderr[-4000:]}"
    return completed.stdout


@pytest.mark.slow
def test_bench_model_compares_every_path_with_the_naive_forward(tmp_path):
    output = run_benchmark(
        "bench_model",
        *TINY_MODEL,
        "--repeats",
        "2",
        "--agreement-images",
        "2",
        "--json",
        str(tmp_path / "model.json"),
        timeout=400,  # includes the int8 calibration and the measured runtime decision
    )
    results = json.loads((tmp_path / "model.json").read_text())
    rows = {row["path"]: row for row in results["rows"]}
    assert rows["PyTorch fp32 NCHW (naive)"]["ratio"] == 1.0
    # fp32 runtimes compute the same function: identical masks and near-identical probabilities.
    for name in ("PyTorch channels_last fp32", "ONNX Runtime fp32", "OpenVINO fp32"):
        assert rows[name]["mask_dice"] >= 0.99, name
        assert rows[name]["max_prob_diff"] < 1e-2, name
    assert sum(row["served"] for row in results["rows"]) == 1
    assert rows["OpenVINO int8 (NNCF)"]["backend"].startswith("openvino-int8")
    assert "agree with PyTorch fp32" in results["runtime_decision"]
    assert "RANDOM-INIT" in output and "x naive" in output
    assert "vs naive" in output and "(target <= 0.15x)" in output


def test_bench_train_reports_throughput_and_data_wait(tmp_path):
    output = run_benchmark(
        "bench_train",
        *TINY_MODEL,
        "--batch-size",
        "2",
        "--steps",
        "2",
        "--epochs",
        "1",
        "--json",
        str(tmp_path / "train.json"),
    )
    rows = json.loads((tmp_path / "train.json").read_text())["rows"]
    assert [row["view"] for row in rows] == ["training steps only", "ptxseg.training.loop epochs (history)"]
    for row in rows:
        assert row["images"] == 4  # 1 timed epoch x 2 steps x batch 2
        assert row["images_per_s"] > 0
        assert 0.0 <= row["data_wait_share"] <= 1.0
    assert "of step time waiting for data" in output


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown where there is no CUDA device")
def test_gpu_bench_says_there_is_no_cuda_and_exits_cleanly():
    assert run_benchmark("gpu_bench").startswith("no CUDA device")


def test_gpu_bench_cpu_dry_run_runs_every_section(tmp_path):
    output = run_benchmark(
        "gpu_bench", "--cpu-dry-run", "--repeats", "2", "--workers", "0", "--json", str(tmp_path / "gpu.json")
    )
    results = json.loads((tmp_path / "gpu.json").read_text())
    names = [row["what"] for row in results["rows"]]
    assert len(names) == 6  # 2 training rows, 2 batch sizes x 2 inference paths
    assert sum(name.startswith("infer batch 1,") for name in names) == 2
    assert all(row["images_per_s"] > 0 for row in results["rows"])
    # The fast path (AMP + channels_last) must agree with fp32 as a served runtime must: mask Dice >= 0.99.
    assert results["agreement"]["mask_dice"] >= 0.99
    assert "fast vs fp32 masks: Dice" in output and results["device"]["name"] == "CPU (dry run)"


@pytest.mark.slow
@pytest.mark.server
def test_bench_server_times_infer_against_forward_and_stock(tmp_path):
    output = run_benchmark(
        "bench_server",
        "--image-side",
        "128",
        *TINY_MODEL,
        "--requests",
        "2",
        "--warmup",
        "1",
        "--stock-repeats",
        "1",
        "--json",
        str(tmp_path / "server.json"),
        timeout=400,
    )
    results = json.loads((tmp_path / "server.json").read_text())
    assert results["startup_peak_rss_mb"] >= results["idle_rss_mb"] > 0 and results["serving_peak_rss_mb"] > 0
    assert results["served_backend"] in results["runtime_reason"]  # the measured runtime is the one timed
    assert results["served_backend"].startswith(("openvino", "onnxruntime"))
    split = results["stage_split_ms"]
    assert set(split) == {"read", "preprocess", "forward", "postprocess", "write", "http"}
    assert results["ratios"]["infer_vs_forward"] > 1.0  # a request does more than the forward it contains
    assert "/infer vs fast forward" in output and "/infer vs stock MONAI pipeline" in output


def test_profile_openvino_splits_the_forward_by_layer_type(tmp_path):
    output = run_benchmark(
        "profile_openvino", *TINY_MODEL, "--repeats", "1", "--int8", "--json", str(tmp_path / "p.json")
    )
    results = json.loads((tmp_path / "p.json").read_text())
    layers = {row["layer"] for row in results["rows"]}
    assert {"Convolution", "GroupConvolution"} <= layers  # EfficientNet: dense and depthwise convolutions
    assert results["precisions"][-1] == "int8" and results["summed_ms"]["int8"] > 0
    assert "FakeQuantize" in layers or any("I8" in kernel for kernel in results["kernels"]["int8"])
    assert sum(row["share"] for row in results["rows"]) == pytest.approx(1.0, abs=0.02)
    assert "OpenVINO layer time per forward" in output


@pytest.mark.slow
def test_bench_contention_times_inference_quiet_and_beside_a_trainer(tmp_path):
    tiny = ["--image-side", "128", "--trainer-encoder", "efficientnet-b0", "--trainer-size", "64", "--repeats", "2"]
    output = run_benchmark("bench_contention", *TINY_MODEL, *tiny, "--json", str(tmp_path / "c.json"))
    rows = json.loads((tmp_path / "c.json").read_text())["rows"]
    assert rows[0]["scenario"] == "quiet" and rows[0]["slowdown"] == 1.0
    assert len(rows) == (3 if (os.cpu_count() or 1) > 1 else 2)
    assert all(row["median_ms"] > 0 for row in rows)
    assert "x quiet" in output


def test_bench_uncertainty_times_flip_tta_against_mc_dropout(tmp_path):
    arguments = [*TINY_MODEL, "--repeats", "1", "--samples", "2", "--json", str(tmp_path / "uncertainty.json")]
    output = run_benchmark("bench_uncertainty", *arguments)
    results = json.loads((tmp_path / "uncertainty.json").read_text())
    assert [row["vs_flip"] for row in results["rows"]][0] == 1.0 and len(results["rows"]) == 3
    assert results["encoder_reuse_ratio"] > 0 and "encoder once vs whole forwards" in output


@pytest.mark.slow
def test_bench_throughput_reports_images_per_second_batched_and_one_at_a_time(tmp_path):
    tiny = ["--image-side", "128", "--images", "4", "--batch-sizes", "1", "2", "--json", str(tmp_path / "t.json")]
    output = run_benchmark("bench_throughput", *TINY_MODEL, *tiny, timeout=400)
    results = json.loads((tmp_path / "t.json").read_text())
    rows = results["rows"]
    assert [(row["what"].split()[0], row["batch"]) for row in rows] == [
        ("predict:", 1),
        ("predict_files", 1),
        ("predict_files", 2),
        ("score:", 1),
        ("score_images", 1),
        ("score_images", 2),
    ]
    assert rows[0]["vs_one_at_a_time"] == rows[3]["vs_one_at_a_time"] == 1.0
    assert all(row["images_per_s"] > 0 for row in rows)
    assert results["served_backend"] in results["setup"] and "images/s" in output
