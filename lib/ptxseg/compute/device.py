"""Where the work runs: the device a request resolves to, and whether this CPU computes bf16 natively."""

from __future__ import annotations

import logging

import torch

__all__ = ["resolve_device", "cpu_supports_bf16"]

LOGGER = logging.getLogger(__name__)


def resolve_device(device: str = "auto") -> str:
    """'auto' -> 'cuda' when a GPU is usable, else 'cpu'; anything else is checked and passed through."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but no CUDA GPU is available; use 'cpu' or 'auto'")
    if not (device == "cpu" or device.startswith("cuda")):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:N]', got {device!r}")
    return device


def cpu_supports_bf16() -> bool:
    """Whether OpenVINO reports native bf16 on this CPU (AVX512-BF16 or AMX): detected, never assumed."""
    try:
        import openvino as ov

        return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    except Exception as error:  # noqa: BLE001 - any failure means "no bf16", and is logged
        LOGGER.info("cannot query OpenVINO CPU capabilities (%s); assuming no bf16", error)
        return False
