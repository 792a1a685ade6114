"""Ship a checkpoint: install it as the MONAI Label app's served model, or export it to an ONNX file checked against
PyTorch. Both refuse a checkpoint that does not load, before anything is written."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .backends import OnnxRuntimeBackend, TorchBackend, export_onnx
from .checkpoint import CheckpointMetadata, load_model
from .model_store import ModelRecord, ModelStore
from .phantom import make_phantom
from .transforms import normalize

__all__ = [
    "ONNX_TOLERANCE",
    "OnnxExport",
    "app_model_dir",
    "install_in_app",
    "onnx_max_difference",
    "export_checked_onnx",
]

LOGGER = logging.getLogger(__name__)
# fp32 ONNX Runtime and PyTorch differ only by operator order and fusion: ~1e-5 on logits of a few units. More
# than 1e-3 means an operator exported wrongly, not rounding.
ONNX_TOLERANCE = 1e-3
APP_ENTRY = "main.py"
APP_MODEL_FOLDER = "model"


def _load_or_refuse(checkpoint: Path, action: str) -> tuple[torch.nn.Module, CheckpointMetadata]:
    try:
        return load_model(checkpoint)
    except (ValueError, OSError) as error:
        raise ValueError(f"refusing to {action}: {checkpoint} does not load as a ptxseg model ({error})") from error


def app_model_dir(app_or_model_dir: str | os.PathLike) -> Path:
    """The folder the app serves its model from: ``DIR/model`` when DIR is an app (has ``main.py``), else DIR.

    Example:
        >>> app_model_dir("monailabel_app")  # doctest: +SKIP
        PosixPath('monailabel_app/model')
    """
    folder = Path(app_or_model_dir)
    return folder / APP_MODEL_FOLDER if (folder / APP_ENTRY).is_file() else folder


def install_in_app(checkpoint: str | os.PathLike, app_or_model_dir: str | os.PathLike) -> ModelRecord:
    """Make ``checkpoint`` the app's served model (the old one is kept as the previous) and return the new record.

    The record takes the validation Dice (``metrics["per_image_dice"]``) and training image count
    (``training_data["train"]``) stored in the checkpoint, where present.

    Raises:
        ValueError: the checkpoint does not load; nothing is changed.

    Example:
        >>> install_in_app("runs/siim/best.safetensors", "monailabel_app").version  # doctest: +SKIP
        3
    """
    checkpoint = Path(checkpoint).resolve()
    _, metadata = _load_or_refuse(checkpoint, "install it")
    validation_dice = metadata.metrics.get("per_image_dice")
    training_images = int(metadata.training_data.get("train", 0))
    if validation_dice is None and metadata.encoder_weights == "random":
        LOGGER.warning("%s carries no validation metrics and started from random weights: is it trained?", checkpoint)
    outcome = {
        "event": "ptxseg export",
        "checkpoint": str(checkpoint),
        "validation_dice": validation_dice,
        "training_images": training_images,
        "promoted": True,
        "reason": "installed by ptxseg export",
    }
    return ModelStore(app_model_dir(app_or_model_dir)).install(
        checkpoint,
        trained=True,
        validation_dice=validation_dice,
        training_images=training_images,
        source=f"ptxseg export {checkpoint}",
        outcome=outcome,
    )


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
    model, metadata = _load_or_refuse(checkpoint, "export it")
    staging = onnx_path.with_name(f".{onnx_path.name}.unchecked")
    try:
        export_onnx(model, metadata.image_size, staging)
        difference = onnx_max_difference(model, staging, metadata.image_size)
        if difference > tolerance:
            raise ValueError(
                f"the ONNX export of {checkpoint} differs from PyTorch fp32 by up to {difference:.3g} in the logits, "
                f"above the tolerance {tolerance:g}; {onnx_path} was not written. Report it with your torch and "
                "onnx versions, and serve the checkpoint with --backend torch meanwhile"
            )
        os.replace(staging, onnx_path)
    finally:
        staging.unlink(missing_ok=True)
    return OnnxExport(onnx_path, metadata.image_size, difference)
