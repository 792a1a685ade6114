"""Installing a trained checkpoint into a MONAI Label app's model folder (``ptxseg export --app``)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ptxseg.model.bundle import load_any, load_bundle
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
    store = ModelStore(app_model_dir(app_or_model_dir))
    kind = _kind_or_refuse(checkpoint, "install it")
    if store.has_model() and (served := _kind_or_refuse(store.served_path, "replace it")) != kind:
        raise ValueError(f"refusing to install a {kind} model in an app that serves a {served} model; use its own app")
    if kind == "unet":
        _, metadata = load_model_or_refuse(checkpoint, "install it")
        metrics, training_data, weights = metadata.metrics, metadata.training_data, metadata.encoder_weights
    else:
        bundle = load_bundle(checkpoint)
        metrics, training_data, weights = bundle.metrics, bundle.training_data, "trained members"
    validation_dice = metrics.get("per_image_dice")
    training_images = int(training_data.get("train", 0))
    if validation_dice is None and weights == "random":
        LOGGER.warning("%s carries no validation metrics and started from random weights: is it trained?", checkpoint)
    outcome = {
        "event": "ptxseg export",
        "checkpoint": str(checkpoint),
        "validation_dice": validation_dice,
        "training_images": training_images,
        "promoted": True,
        "reason": "installed by ptxseg export",
    }
    return store.install(
        checkpoint,
        trained=True,
        validation_dice=validation_dice,
        training_images=training_images,
        source=f"ptxseg export {checkpoint}",
        outcome=outcome,
    )


def _kind_or_refuse(path: Path, action: str) -> str:
    try:
        return load_any(path)
    except (ValueError, OSError) as error:
        raise ValueError(f"refusing to {action}: {path} does not load as a ptxseg model ({error})") from error
