"""Installing a trained checkpoint into a MONAI Label app's model folder (``ptxseg export --app``)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ptxseg.model.bundle import BUNDLE_KEY, load_any, load_bundle
from ptxseg.model.checkpoint import CheckpointMetadata, load_model_or_refuse
from ptxseg.model.weights_file import read_weights
from ptxseg.serving.app_location import app_model_dir
from ptxseg.serving.store import ModelRecord, ModelStore

__all__ = ["install_checkpoint", "install_in_app", "load_problem", "served_metadata"]

LOGGER = logging.getLogger(__name__)


def install_in_app(checkpoint: str | os.PathLike, app_or_model_dir: str | os.PathLike) -> ModelRecord:
    """Make ``checkpoint`` the app's served model (the old one is kept as the previous) and return the new record.

    Raises:
        ValueError: the checkpoint does not load; nothing is changed.

    Example:
        >>> install_in_app("runs/siim/best.safetensors", "monailabel_app").version  # doctest: +SKIP
        3
    """
    checkpoint = Path(checkpoint).resolve()
    store = ModelStore(app_model_dir(app_or_model_dir))
    return install_checkpoint(store, checkpoint, source=f"ptxseg export {checkpoint}", event="ptxseg export")


def install_checkpoint(
    store: ModelStore, checkpoint: Path, *, source: str, event: str, from_conf_model: bool = False
) -> ModelRecord:
    """Install a trained ``checkpoint`` as the served model of ``store``, recorded as coming from ``source``.

    The record takes the validation Dice (``metrics["per_image_dice"]``) and training image count
    (``training_data["train"]``) stored in the checkpoint, where present; ``event`` names the install in the
    record's history.

    Raises:
        ValueError: the checkpoint does not load, or is another kind (U-Net, ensemble...) than the served one;
            nothing is changed.

    Example:
        >>> from ptxseg.serving.store import ModelStore
        >>> install_checkpoint(ModelStore("/tmp/model"), Path("/tmp/none.safetensors"), source="", event="")
        ... # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ValueError: refusing to install it: /tmp/none.safetensors does not load as a ptxseg model (checkpoint not ...)
    """
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
        "event": event,
        "checkpoint": str(checkpoint),
        "validation_dice": validation_dice,
        "training_images": training_images,
        "promoted": True,
        "reason": f"installed by {event}",
    }
    return store.install(
        checkpoint,
        trained=True,
        validation_dice=validation_dice,
        training_images=training_images,
        source=source,
        outcome=outcome,
        from_conf_model=from_conf_model,
    )


def _kind_or_refuse(path: Path, action: str) -> str:
    try:
        return load_any(path)
    except (ValueError, OSError) as error:
        raise ValueError(f"refusing to {action}: {path} does not load as a ptxseg model ({error})") from error


def load_problem(path: Path) -> str | None:
    """Why a checkpoint cannot be served, or None when it loads (safe loading: no pickled code runs).

    The file is named, not its server path: the reason is shown by ``/info`` and written to the log alike.

    Example:
        >>> load_problem(Path("/models/no-such-model.safetensors"))
        'checkpoint not found: no-such-model.safetensors'
    """
    try:
        load_any(path)
    except (ValueError, OSError, RuntimeError) as error:
        return str(error).replace(str(path), path.name)
    return None


def served_metadata(path: Path) -> CheckpointMetadata:
    """The metadata of the U-Net in a model file (a bundle's first U-Net); the defaults for a bare state dict.

    Example:
        >>> served_metadata(Path("model/pneumothorax.safetensors")).image_size  # doctest: +SKIP
        512
    """
    _, header = read_weights(path)
    if header is not None and BUNDLE_KEY in header:
        header = next(member["metadata"] for member in header[BUNDLE_KEY]["members"] if member["role"] == "unet")
    return CheckpointMetadata.from_dict(header) if header is not None else CheckpointMetadata()
