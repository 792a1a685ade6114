"""What a benchmark ran on: CPU model and its bf16/AMX support, cores, load, library versions, date.

Timings mean nothing without this: the same forward differs several-fold between CPUs with and without native bf16,
and a second busy process on a 2-core machine halves every number.
"""

from __future__ import annotations

import os
import platform
from datetime import datetime, timezone

from ptxseg.compute.device import cpu_model_and_flags

__all__ = ["describe_machine", "machine_lines"]

# The CPU features the fast CPU paths depend on (see ptxseg.inference.runtimes): native bf16 dot products and AMX tiles.
BF16_FLAGS = ("avx512_bf16", "amx_bf16", "amx_tile", "amx_int8")


def describe_machine() -> dict:
    """The machine and software a benchmark ran on, as a JSON-ready dict.

    Example:
        >>> sorted(describe_machine())[:3]
        ['cores', 'cpu_flags', 'cpu_model']
    """
    import onnxruntime
    import openvino
    import torch

    from ptxseg.compute.device import cpu_supports_bf16

    model, flags = cpu_model_and_flags()
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return {
        "cores": os.cpu_count(),
        "cpu_flags": [flag for flag in BF16_FLAGS if flag in flags],
        "cpu_model": model,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "load_average_1_5_15": [round(value, 2) for value in load],
        "openvino_bf16": cpu_supports_bf16(),
        "torch_threads": torch.get_num_threads(),
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "openvino": openvino.__version__,
            "onnxruntime": onnxruntime.__version__,
        },
    }


def machine_lines(machine: dict) -> list[str]:
    """Human-readable lines for the header of a benchmark's output.

    Example:
        >>> machine_lines(describe_machine())[0].startswith("machine: ")
        True
    """
    flags = ", ".join(machine["cpu_flags"]) or "none"
    versions = ", ".join(f"{name} {version}" for name, version in machine["versions"].items())
    return [
        f"machine: {machine['cpu_model']}, {machine['cores']} cores (torch threads {machine['torch_threads']}); "
        f"bf16 flags: {flags}; OpenVINO reports BF16: {machine['openvino_bf16']}",
        f"load average (1/5/15 min): {machine['load_average_1_5_15']}; date {machine['date']}",
        f"software: {versions}",
    ]
