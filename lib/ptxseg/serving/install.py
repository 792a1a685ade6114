"""Installing a trained checkpoint into a MONAI Label app's model folder (``ptxseg export --app``)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ptxseg.model.checkpoint import load_model_or_refuse
from ptxseg.serving.app_location import app_model_dir
from ptxseg.serving.store import ModelRecord, ModelStore

__all__ = ["install_in_app"]

LOGGER = logging.getLogger(__name__)


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
    _, metadata = load_model_or_refuse(checkpoint, "install it")
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
