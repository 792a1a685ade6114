"""Where the work runs: the device a request resolves to, and whether this CPU computes bf16 natively."""

from __future__ import annotations

import logging
import platform
from pathlib import Path

import torch

__all__ = ["cpu_model_and_flags", "cpu_supports_bf16", "resolve_device"]

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


def cpu_model_and_flags() -> tuple[str, set[str]]:
    """The CPU's model name and feature flags from /proc/cpuinfo (Linux), else what ``platform`` knows.

    Example:
        >>> model, flags = cpu_model_and_flags()
        >>> isinstance(model, str) and isinstance(flags, set)
        True
    """
    info = Path("/proc/cpuinfo")
    if not info.is_file():
        return platform.processor() or platform.machine(), set()
    model, flags = "", set()
    for line in info.read_text().splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and not model:
            model = value.strip()
        elif key.strip() == "flags" and not flags:
            flags = set(value.split())
    return model, flags
