"""Inference runtimes for one network: PyTorch (reference, GPU), OpenVINO and ONNX Runtime (CPU).

Measured on 2 CPU cores, 512x512, batch 1 (benchmarks/RESULTS.md): PyTorch fp32 is several times slower than
OpenVINO with bf16 where the CPU has AVX512-BF16/AMX, so on CPU the network is exported once to ONNX (cached beside
its checkpoint, rebuilt when the checkpoint changes) and run by an inference runtime. PyTorch fp32 stays the
reference every fast path is checked against.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from ptxseg.compute.device import cpu_supports_bf16, resolve_device
from ptxseg.model.onnx import cached_onnx_export, export_onnx

__all__ = [
    "BACKEND_KINDS",
    "InferenceBackend",
    "TorchBackend",
    "OpenVINOBackend",
    "OnnxRuntimeBackend",
    "select_backend",
]

LOGGER = logging.getLogger(__name__)
BACKEND_KINDS = ("auto", "torch", "openvino", "onnxruntime")


class InferenceBackend(Protocol):
    """Maps a normalised float32 batch (N, 1, S, S) to logits (N, 1, S, S) as numpy arrays."""

    name: str

    def __call__(self, batch: np.ndarray) -> np.ndarray: ...


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


class OpenVINOBackend:
    """OpenVINO on CPU, bf16 where the CPU supports it natively (the fastest CPU path measured here).

    ``model_path`` is the ONNX export, or an int8 model from ``ptxseg.inference.int8`` (``int8=True``): its
    quantised layers run in int8 and the rest (depthwise convolutions) at ``precision``.
    """

    def __init__(self, model_path: Path, precision: str = "auto", threads: int | None = None, int8: bool = False):
        import openvino as ov

        if precision == "auto":
            precision = "bf16" if cpu_supports_bf16() else "f32"
        if precision not in ("bf16", "f32"):
            raise ValueError(f"OpenVINO precision must be 'auto', 'bf16' or 'f32', got {precision!r}")
        config = {"INFERENCE_PRECISION_HINT": precision, "PERFORMANCE_HINT": "LATENCY"}
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        self.compiled = ov.Core().compile_model(str(model_path), "CPU", config)
        self.name = f"openvino-int8-{precision}" if int8 else f"openvino-{precision}"

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
