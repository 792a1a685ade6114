"""Inference runtimes for one network: PyTorch (reference, GPU), OpenVINO and ONNX Runtime (CPU).

Measured on 2 CPU cores, 512x512, batch 1 (benchmarks/RESULTS.md): PyTorch fp32 is several times slower than
OpenVINO with bf16 where the CPU has AVX512-BF16/AMX, so on CPU the network is exported once to ONNX (cached beside
its checkpoint, rebuilt when the checkpoint changes) and run by an inference runtime. PyTorch fp32 stays the
reference every fast path is checked against.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

__all__ = [
    "BACKEND_KINDS",
    "InferenceBackend",
    "TorchBackend",
    "OpenVINOBackend",
    "OnnxRuntimeBackend",
    "cpu_supports_bf16",
    "export_onnx",
    "cached_onnx_export",
    "resolve_device",
    "select_backend",
]

LOGGER = logging.getLogger(__name__)
BACKEND_KINDS = ("auto", "torch", "openvino", "onnxruntime")
ONNX_OPSET = 17


class InferenceBackend(Protocol):
    """Maps a normalised float32 batch (N, 1, S, S) to logits (N, 1, S, S) as numpy arrays."""

    name: str

    def __call__(self, batch: np.ndarray) -> np.ndarray: ...


def resolve_device(device: str = "auto") -> str:
    """'auto' -> 'cuda' when a GPU is usable, else 'cpu'; anything else is checked and passed through."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but no CUDA GPU is available; use 'cpu' or 'auto'")
    if not (device == "cpu" or device.startswith("cuda")):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:N]', got {device!r}")
    return device


class TorchBackend:
    """PyTorch inference. On GPU: channels_last and fp16 autocast; on CPU: plain fp32 (the reference)."""

    def __init__(self, model: torch.nn.Module, device: str = "cpu", fast: bool | None = None):
        self.device = torch.device(device)
        self.fast = self.device.type == "cuda" if fast is None else fast
        self.model = model.to(self.device).eval()
        if self.fast:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.name = f"torch-{self.device.type}-{'amp' if self.fast else 'fp32'}"

    @torch.inference_mode()
    def __call__(self, batch: np.ndarray) -> np.ndarray:
        tensor = torch.from_numpy(np.ascontiguousarray(batch, np.float32)).to(self.device)
        if self.fast:
            tensor = tensor.contiguous(memory_format=torch.channels_last)
            dtype = torch.float16 if self.device.type == "cuda" else torch.bfloat16
            with torch.autocast(self.device.type, dtype=dtype):
                logits = self.model(tensor)
        else:
            logits = self.model(tensor)
        return logits.float().cpu().numpy()


def cpu_supports_bf16() -> bool:
    """Whether OpenVINO reports native bf16 on this CPU (AVX512-BF16 or AMX): detected, never assumed."""
    try:
        import openvino as ov

        return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    except Exception as error:  # noqa: BLE001 - any failure means "no bf16", and is logged
        LOGGER.info("cannot query OpenVINO CPU capabilities (%s); assuming no bf16", error)
        return False


class OpenVINOBackend:
    """OpenVINO on CPU, bf16 where the CPU supports it natively (the fastest CPU path measured here)."""

    def __init__(self, onnx_path: Path, precision: str = "auto", threads: int | None = None):
        import openvino as ov

        if precision == "auto":
            precision = "bf16" if cpu_supports_bf16() else "f32"
        if precision not in ("bf16", "f32"):
            raise ValueError(f"OpenVINO precision must be 'auto', 'bf16' or 'f32', got {precision!r}")
        config = {"INFERENCE_PRECISION_HINT": precision, "PERFORMANCE_HINT": "LATENCY"}
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        self.compiled = ov.Core().compile_model(str(onnx_path), "CPU", config)
        self.name = f"openvino-{precision}"

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return np.asarray(self.compiled([np.ascontiguousarray(batch, np.float32)])[0])


class OnnxRuntimeBackend:
    """ONNX Runtime on CPU, fp32: the fallback where OpenVINO is not installed."""

    def __init__(self, onnx_path: Path, threads: int | None = None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.name = "onnxruntime-fp32"

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: np.ascontiguousarray(batch, np.float32)})[0]


def export_onnx(model: torch.nn.Module, image_size: int, path: Path) -> Path:
    """Export the network to ONNX (dynamic batch) atomically, so a half-written file is never loaded."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cpu_model = model.to("cpu").eval()
    example = torch.zeros(1, 1, image_size, image_size)
    handle, temporary = tempfile.mkstemp(suffix=".onnx", dir=path.parent)
    os.close(handle)
    try:
        # Tracing with autograd on keeps every activation for a backward pass that never comes: measured for
        # EfficientNet-B4 at 512, peak memory +1.7 GB with it, +0.34 GB under no_grad (the server exports when it
        # loads a new checkpoint, so this was the server's memory peak).
        with torch.no_grad():
            torch.onnx.export(
                cpu_model,
                example,
                temporary,
                input_names=["image"],
                output_names=["logits"],
                dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
                opset_version=ONNX_OPSET,
                dynamo=False,
            )
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return path


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cached_onnx_export(model: torch.nn.Module, image_size: int, checkpoint: Path) -> Path:
    """The ONNX copy beside ``checkpoint``, re-exported whenever the checkpoint's content changed."""
    checkpoint = Path(checkpoint)
    onnx_path = checkpoint.with_name(checkpoint.name + f".{image_size}.onnx")
    stamp_path = onnx_path.with_name(onnx_path.name + ".sha256")
    digest = _file_digest(checkpoint)
    if onnx_path.is_file() and stamp_path.is_file() and stamp_path.read_text().strip() == digest:
        return onnx_path
    LOGGER.info("exporting %s to %s for the CPU runtime", checkpoint.name, onnx_path.name)
    export_onnx(model, image_size, onnx_path)
    stamp_path.write_text(digest)
    return onnx_path


def select_backend(
    model: torch.nn.Module,
    image_size: int,
    device: str = "auto",
    kind: str = "auto",
    checkpoint: Path | None = None,
    threads: int | None = None,
) -> InferenceBackend:
    """Pick the runtime by measurement: PyTorch AMP on GPU; OpenVINO (else ONNX Runtime) on CPU.

    Args:
        model: the network in eval mode.
        image_size: square input side (the export is made for it).
        device: 'auto', 'cpu' or 'cuda[:N]'.
        kind: one of ``BACKEND_KINDS``; 'torch' forces the PyTorch reference path.
        checkpoint: the model file, so the ONNX export is cached beside it; None exports to a temporary folder.
        threads: CPU threads for the runtime (None: the runtime's default, all cores).
    """
    if kind not in BACKEND_KINDS:
        raise ValueError(f"backend must be one of {', '.join(BACKEND_KINDS)}, got {kind!r}")
    device = resolve_device(device)
    if kind == "torch" or (kind == "auto" and device != "cpu"):
        return TorchBackend(model, device)
    if checkpoint is None:
        onnx_path = export_onnx(model, image_size, Path(tempfile.mkdtemp(prefix="ptxseg-onnx-")) / "model.onnx")
    else:
        onnx_path = cached_onnx_export(model, image_size, checkpoint)
    if kind in ("auto", "openvino"):
        try:
            return OpenVINOBackend(onnx_path, threads=threads)
        except ImportError:
            if kind == "openvino":
                raise
            LOGGER.warning("OpenVINO is not installed; falling back to ONNX Runtime")
    return OnnxRuntimeBackend(onnx_path, threads=threads)
