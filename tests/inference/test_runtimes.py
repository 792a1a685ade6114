"""Inference runtimes agree with the PyTorch fp32 reference (ONNX Runtime, OpenVINO); which runtime is served."""

import numpy as np
import pytest
import torch

from ptxseg.compute.device import cpu_supports_bf16
from ptxseg.inference import runtimes as backends
from ptxseg.inference.runtimes import OnnxRuntimeBackend, OpenVINOBackend, TorchBackend, select_backend
from ptxseg.model import onnx as onnx_export
from ptxseg.model.network import build_architecture, recalibrate_batchnorm
from ptxseg.model.onnx import export_onnx
from tests.support.export_recorder import ExportRecorder

SIZE = 64


@pytest.fixture(scope="module")
def batch() -> np.ndarray:
    """Two different normalised inputs: batch 2 exercises the export's dynamic batch axis (exported at 1)."""
    return np.random.default_rng(0).standard_normal((2, 1, SIZE, SIZE)).astype(np.float32)


@pytest.fixture(scope="module")
def model(batch) -> torch.nn.Module:
    """A small U-Net whose logits vary by a few units: BatchNorm statistics estimated on real inputs."""
    torch.manual_seed(0)
    return recalibrate_batchnorm(build_architecture("efficientnet-b0"), [torch.from_numpy(batch)])


@pytest.fixture(scope="module")
def reference(model, batch) -> np.ndarray:
    with torch.inference_mode():
        logits = model(torch.from_numpy(batch)).numpy()
    assert logits.std() > 0.1  # otherwise "agreement to 1e-3" would prove nothing
    return logits


@pytest.fixture(scope="module")
def onnx_path(model, tmp_path_factory):
    return export_onnx(model, SIZE, tmp_path_factory.mktemp("onnx") / "nested" / "model.onnx")


def test_torch_backend_fp32_is_the_models_own_forward(model, batch, reference):
    backend = TorchBackend(model, "cpu")

    logits = backend(batch)

    assert backend.name == "torch-cpu-fp32"
    assert logits.dtype == np.float32 and logits.shape == (2, 1, SIZE, SIZE)
    np.testing.assert_array_equal(logits, reference)


def test_export_onnx_writes_the_file_atomically(onnx_path):
    assert onnx_path.name == "model.onnx" and onnx_path.stat().st_size > 100_000
    assert [path.name for path in onnx_path.parent.iterdir()] == ["model.onnx"]  # no temporary left behind


def test_onnxruntime_agrees_with_pytorch_fp32(onnx_path, batch, reference):
    backend = OnnxRuntimeBackend(onnx_path, threads=1)

    logits = backend(batch)

    assert backend.name == "onnxruntime-fp32"
    assert logits.shape == (2, 1, SIZE, SIZE)
    np.testing.assert_allclose(logits, reference, atol=1e-3)
    np.testing.assert_allclose(backend(batch[1:]), reference[1:], atol=1e-3)  # each image on its own


def test_openvino_f32_agrees_with_pytorch_fp32(onnx_path, batch, reference):
    backend = OpenVINOBackend(onnx_path, precision="f32", threads=1)

    logits = backend(batch)

    assert backend.name == "openvino-f32"
    assert logits.shape == (2, 1, SIZE, SIZE)
    np.testing.assert_allclose(logits, reference, atol=1e-3)


def _compiled_precision(backend: OpenVINOBackend) -> str:
    """The precision OpenVINO actually compiled for, e.g. 'bf16' or 'f32'."""
    return backend.compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()


def test_openvino_auto_picks_bf16_only_where_the_cpu_has_it(onnx_path, monkeypatch):
    native = "bf16" if cpu_supports_bf16() else "f32"
    detected = OpenVINOBackend(onnx_path)
    assert detected.name == f"openvino-{native}" and _compiled_precision(detected) == native

    monkeypatch.setattr(backends, "cpu_supports_bf16", lambda: False)
    backend = OpenVINOBackend(onnx_path)

    assert backend.name == "openvino-f32" and _compiled_precision(backend) == "f32"


def test_openvino_rejects_an_unknown_precision(onnx_path):
    with pytest.raises(ValueError, match="'auto', 'bf16' or 'f32'"):
        OpenVINOBackend(onnx_path, precision="fp16")


def test_select_backend_kinds(model, onnx_path, tmp_path, monkeypatch):
    recorder = ExportRecorder()
    monkeypatch.setattr(onnx_export, "export_onnx", recorder)
    monkeypatch.setattr(backends, "OpenVINOBackend", lambda path, threads=None: ("openvino", path, threads))
    monkeypatch.setattr(backends, "OnnxRuntimeBackend", lambda path, threads=None: ("onnxruntime", path, threads))
    checkpoint = tmp_path / "model.safetensors"
    checkpoint.write_bytes(b"weights")

    assert select_backend(model, SIZE, device="cpu", kind="torch").name == "torch-cpu-fp32"
    assert select_backend(model, SIZE, device="cpu", kind="auto", checkpoint=checkpoint, threads=2) == (
        "openvino",
        tmp_path / "model.safetensors.64.onnx",
        2,
    )
    assert select_backend(model, SIZE, device="cpu", kind="onnxruntime", checkpoint=checkpoint)[0] == "onnxruntime"
    assert recorder.calls == 1  # one export serves every CPU runtime

    kind, path, _ = select_backend(model, SIZE, device="cpu", kind="openvino")
    assert kind == "openvino" and path.name == "model.onnx" and path.parent != tmp_path  # a temporary folder
    with pytest.raises(ValueError, match="auto, torch, openvino, onnxruntime"):
        select_backend(model, SIZE, device="cpu", kind="tensorrt")


def test_select_backend_auto_falls_back_to_onnxruntime_without_openvino(model, tmp_path, monkeypatch):
    def missing_openvino(path, threads=None):
        raise ImportError("No module named 'openvino'")

    monkeypatch.setattr(onnx_export, "export_onnx", ExportRecorder())
    monkeypatch.setattr(backends, "OpenVINOBackend", missing_openvino)
    monkeypatch.setattr(backends, "OnnxRuntimeBackend", lambda path, threads=None: "onnxruntime")
    checkpoint = tmp_path / "model.safetensors"
    checkpoint.write_bytes(b"weights")

    assert select_backend(model, SIZE, device="cpu", kind="auto", checkpoint=checkpoint) == "onnxruntime"
    with pytest.raises(ImportError):
        select_backend(model, SIZE, device="cpu", kind="openvino", checkpoint=checkpoint)
