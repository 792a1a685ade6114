"""Ship a checkpoint: install it as the MONAI Label app's served model, or export it to an ONNX file checked against
PyTorch. Both refuse a checkpoint that does not load, before anything is written."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ptxseg.inference.runtimes import OnnxRuntimeBackend, TorchBackend
from ptxseg.io.atomic import atomic_write
from ptxseg.model.checkpoint import load_model_or_refuse
from ptxseg.model.onnx import export_onnx
from ptxseg.phantom.synthetic import make_phantom
from ptxseg.transforms.intensity import normalize

__all__ = [
    "ONNX_TOLERANCE",
    "OnnxExport",
    "onnx_max_difference",
    "export_checked_onnx",
]

LOGGER = logging.getLogger(__name__)
# fp32 ONNX Runtime and PyTorch differ only by operator order and fusion: ~1e-5 on logits of a few units. More
# than 1e-3 means an operator exported wrongly, not rounding.
ONNX_TOLERANCE = 1e-3


def onnx_max_difference(
    model: torch.nn.Module, onnx_path: str | os.PathLike, image_size: int, samples: int = 3, seed: int = 0
) -> float:
    """Largest absolute logit difference between ONNX Runtime and PyTorch fp32 on random synthetic chest X-rays.

    Inputs are phantoms (random anatomy and pneumothorax), normalised as the Predictor feeds the network. Pure
    noise would not do: it drives a network far outside its training range, where activations reach thousands
    and any change of rounding order is amplified into differences that say nothing about the export.

    Example:
        >>> onnx_max_difference(model, "model.onnx", 512) < ONNX_TOLERANCE  # doctest: +SKIP
        True
    """
    reference, runtime = TorchBackend(model, "cpu"), OnnxRuntimeBackend(Path(onnx_path))
    largest = 0.0
    for sample in range(samples):
        phantom = make_phantom(image_size, seed=seed + sample).image
        batch = normalize(np.asarray(phantom, dtype=np.float32))[None, None]
        largest = max(largest, float(np.abs(runtime(batch) - reference(batch)).max()))
    return largest


@dataclass(frozen=True)
class OnnxExport:
    """A checked export: where it is, its input size and how far it strayed from PyTorch."""

    path: Path
    image_size: int
    max_difference: float


def export_checked_onnx(
    checkpoint: str | os.PathLike, onnx_path: str | os.PathLike, tolerance: float = ONNX_TOLERANCE
) -> OnnxExport:
    """Export to ONNX (dynamic batch, input ``image`` (N, 1, S, S) normalised, output ``logits``) and keep the file
    only if ONNX Runtime matches PyTorch fp32 within ``tolerance`` on the logits (see :func:`onnx_max_difference`).

    Raises:
        ValueError: the checkpoint does not load, or the export strays beyond ``tolerance`` (no file is left).

    Example:
        >>> export_checked_onnx("best.safetensors", "pneumothorax.onnx").max_difference  # doctest: +SKIP
        2.1e-05
    """
    checkpoint, onnx_path = Path(checkpoint), Path(onnx_path)
    model, metadata = load_model_or_refuse(checkpoint, "export it")
    # Exported beside the target and only renamed into place once it agrees with PyTorch.
    with atomic_write(onnx_path) as staging:
        export_onnx(model, metadata.image_size, staging)
        difference = onnx_max_difference(model, staging, metadata.image_size)
        if difference > tolerance:
            raise ValueError(
                f"the ONNX export of {checkpoint} differs from PyTorch fp32 by up to {difference:.3g} in the logits, "
                f"above the tolerance {tolerance:g}; {onnx_path} was not written. Report it with your torch and "
                "onnx versions, and serve the checkpoint with --backend torch meanwhile"
            )
    return OnnxExport(onnx_path, metadata.image_size, difference)
