"""The safe weights file: tensors plus one JSON header, written and read without unpickling code.

safetensors keeps the header as one JSON string under ``ptxseg_metadata`` in its ``__metadata__``; ``.pt``/``.pth``
files are read with ``torch.load(weights_only=True)`` only, so a model file from a colleague cannot run code.
This module knows nothing of ptxseg's models: the checkpoint record (``ptxseg.model.checkpoint``) and the ImageNet
encoder weights (``ptxseg.model.encoder_weights``) both read through it.
"""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

__all__ = ["METADATA_KEY", "SAFETENSORS_SUFFIX", "TORCH_SUFFIXES", "read_weights", "write_weights"]

METADATA_KEY = "ptxseg_metadata"
SAFETENSORS_SUFFIX = ".safetensors"
TORCH_SUFFIXES = (".pt", ".pth")


def write_weights(path: str | os.PathLike, tensors: Mapping[str, torch.Tensor], header: dict) -> None:
    """Write ``tensors`` and the JSON-able ``header`` to ``path`` (callers make the write atomic).

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "w.safetensors"
        >>> write_weights(path, {"w": torch.ones(2)}, {"note": "x"})
        >>> tensors, header = read_weights(path); header, tensors["w"].tolist()
        ({'note': 'x'}, [1.0, 1.0])
    """
    path = Path(path)
    if path.name.endswith(SAFETENSORS_SUFFIX):
        save_file(dict(tensors), path, metadata={METADATA_KEY: json.dumps(header)})
    elif path.suffix in TORCH_SUFFIXES:
        torch.save({"state_dict": dict(tensors), "metadata": header}, path)
    else:
        raise ValueError(f"checkpoint path must end in {SAFETENSORS_SUFFIX} (preferred), .pt or .pth: {path}")


def read_weights(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> tuple[dict, dict | None]:
    """A file's tensors and header (None when it has none, e.g. a bare state dict); nothing in it is executed.

    Args:
        path: ``*.safetensors``, or ``*.pt``/``*.pth`` holding a state dict or a dict with a ``state_dict`` or
            ``model`` entry (and optionally ``metadata``).
        map_location: device for the tensors.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if path.suffix == SAFETENSORS_SUFFIX:
        return _read_safetensors(path, str(map_location))
    if path.suffix in TORCH_SUFFIXES:
        return _read_torch(path, map_location)
    raise ValueError(f"unknown checkpoint format {path.suffix!r}; use .safetensors, .pt or .pth: {path}")


def _read_safetensors(path: Path, map_location: str) -> tuple[dict, dict | None]:
    try:
        with safe_open(path, framework="pt", device=map_location) as file:
            header = (file.metadata() or {}).get(METADATA_KEY)
            tensors = {key: file.get_tensor(key) for key in file.keys()}
    except SafetensorError as error:
        raise ValueError(f"{path} is not a readable safetensors file ({error})") from error
    return tensors, json.loads(header) if header else None


def _read_torch(path: Path, map_location: str) -> tuple[dict, dict | None]:
    try:
        content = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        raise ValueError(
            f"{path} is not a safe checkpoint: the weights-only loader refused it (it holds Python objects besides "
            "tensors, which could run code, or is no checkpoint at all) and nothing in it was run. Ask for a "
            ".safetensors file or a plain state dict saved with torch.save."
        ) from error
    except RuntimeError as error:
        raise ValueError(f"{path} is not a readable PyTorch checkpoint ({error})") from error
    header = None
    if isinstance(content, Mapping) and ("state_dict" in content or "model" in content):
        header = content.get("metadata")
        content = content["state_dict"] if "state_dict" in content else content["model"]
    if not isinstance(content, Mapping) or not all(isinstance(value, torch.Tensor) for value in content.values()):
        raise ValueError(f"{path} holds no state dict (a mapping of names to tensors)")
    if header is not None and not isinstance(header, Mapping):
        raise ValueError(f"{path} has metadata of type {type(header).__name__}; expected a dict")
    return dict(content), header
