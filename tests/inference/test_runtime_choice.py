"""int8 quantisation, the accuracy gate and the measured choice of the CPU runtime, on a model that has learnt."""

import json
import shutil
import subprocess

import numpy as np
import pytest

from ptxseg.compute.device import cpu_supports_bf16
from ptxseg.inference.calibration import (
    CALIBRATION_SEEDS,
    GATE_IMAGES,
    GATE_SEEDS,
    MIN_CALIBRATION_STUDIES,
    phantom_inputs,
)
from ptxseg.inference.int8 import cached_int8_model, quantize_int8
from ptxseg.inference.runtime_choice import choose_cpu_runtime, decided_runtime
from ptxseg.inference.runtime_gate import gate_runtime
from ptxseg.inference.runtimes import OpenVINOBackend, TorchBackend
from ptxseg.io.writers import write_png
from ptxseg.model.checkpoint import load_model, save_checkpoint
from ptxseg.model.network import build_architecture
from ptxseg.model.onnx import cached_onnx_export, export_onnx
from ptxseg.phantom.synthetic import make_phantom

pytestmark = pytest.mark.slow
SIZE = 128  # the trained phantom model's input side


@pytest.fixture(scope="module")
def trained(trained_phantom_model, tmp_path_factory):
    """A private copy of the trained phantom model (exports are cached beside it), loaded."""
    folder = tmp_path_factory.mktemp("runtime-choice")
    checkpoint = shutil.copy(trained_phantom_model.checkpoint, folder / "model.safetensors")
    model, metadata = load_model(checkpoint)
    return checkpoint, model, metadata, cached_onnx_export(model, SIZE, checkpoint)


def test_int8_agrees_with_fp32_on_held_out_phantoms(trained):
    checkpoint, model, metadata, onnx_path = trained
    calibration = phantom_inputs(32, SIZE, CALIBRATION_SEEDS)
    int8_path = cached_int8_model(onnx_path, checkpoint, SIZE, calibration, "phantoms")
    int8 = OpenVINOBackend(int8_path, int8=True)

    gate = gate_runtime(TorchBackend(model), int8, phantom_inputs(16, SIZE, GATE_SEEDS))

    assert gate.passed, gate.reason
    assert gate.mask_dice >= 0.99 and gate.max_probability_difference <= 0.02
    stamp = json.loads(checkpoint.with_name("model.safetensors.128.int8.json").read_text())
    assert stamp == {"checkpoint_sha256": stamp["checkpoint_sha256"], "calibration": "phantoms", "images": 32}
    assert cached_int8_model(onnx_path, checkpoint, SIZE, [], "phantoms") == int8_path  # cached: no calibration


def test_a_broken_int8_model_is_refused_and_the_next_runtime_serves(trained, tmp_path):
    checkpoint, model, metadata, onnx_path = trained
    # "Broken": the int8 model of another network with the same architecture, so it loads and runs but is wrong.
    stranger = export_onnx(build_architecture("efficientnet-b0"), SIZE, tmp_path / "stranger.onnx")
    broken = quantize_int8(stranger, phantom_inputs(4, SIZE, 0), tmp_path / "broken-int8")

    choice = choose_cpu_runtime(model, onnx_path, lambda: broken, phantom_inputs(8, SIZE, GATE_SEEDS), repeats=2)

    rows = {row["runtime"]: row for row in choice.candidates}
    int8_name = f"openvino-int8-{'bf16' if cpu_supports_bf16() else 'f32'}"
    assert rows[int8_name]["passed"] is False and "refused" in rows[int8_name]["reason"]
    assert choice.chosen != int8_name and rows[choice.chosen]["passed"]
    assert choice.chosen == min((r for r in rows.values() if r["passed"]), key=lambda r: r["median_ms"])["runtime"]
    assert f"not served: {int8_name}" in choice.reason


def test_the_decision_is_measured_once_per_checkpoint_and_cpu(trained, tmp_path, monkeypatch):
    source, model, metadata, _ = trained
    checkpoint = save_checkpoint(tmp_path / "model.safetensors", model, metadata)

    first = decided_runtime(checkpoint, SIZE, int8=False)

    assert first.chosen in {row["runtime"] for row in first.candidates if row["passed"]}
    assert not any(row["runtime"].startswith("openvino-int8") for row in first.candidates)

    def no_child(*args, **kwargs):
        raise AssertionError("measured again although the decision is current")

    monkeypatch.setattr(subprocess, "run", no_child)
    assert decided_runtime(checkpoint, SIZE, int8=False) == first

    save_checkpoint(checkpoint, build_architecture("efficientnet-b0"), metadata)  # new content: stale decision
    with pytest.raises(AssertionError, match="measured again"):
        decided_runtime(checkpoint, SIZE, int8=False)


def test_the_served_studies_calibrate_int8_and_the_decision_and_stamp_say_so(trained, tmp_path):
    _, model, metadata, _ = trained
    checkpoint = save_checkpoint(tmp_path / "model.safetensors", model, metadata)
    studies = tmp_path / "studies"
    studies.mkdir()
    count = GATE_IMAGES + MIN_CALIBRATION_STUDIES
    for seed in range(count):
        image = make_phantom(size=256, positive=seed % 3 == 0, seed=500 + seed, difficulty=0.3).image
        write_png((255 * image).astype(np.uint8), studies / f"1.2.826.0.{seed}.png")

    choice = decided_runtime(checkpoint, SIZE, studies=studies)

    assert choice.calibration == f"{MIN_CALIBRATION_STUDIES} served studies"
    stamp = json.loads(checkpoint.with_name("model.safetensors.128.int8.json").read_text())
    assert (stamp["calibration"], stamp["images"]) == (choice.calibration, MIN_CALIBRATION_STUDIES)
    int8_row = next(row for row in choice.candidates if row["runtime"].startswith("openvino-int8"))
    assert f"on {2 * GATE_IMAGES} images" in int8_row["reason"]  # held-out phantoms and held-out studies
