"""Settings that can be given but cannot take effect in the server's current state, found at start.

Some keys describe a *new* model (``encoder``, ``dropout``, ``encoder_weights``): once the model folder holds one,
they cannot change it. ``image_size`` is also the fine-tuning size, so a value other than the served model's own
changes the size of the next promoted model, not of the served one. The PACS keys need a PACS, and MC dropout needs
a model with dropout. Those that would make the server do something else than asked are refused; the others are
served without, and each is said once at start and in ``/info`` (``settings_ignored``). The server
(``ptxseg.serving.served_model``) and the conf check before it (``ptxseg.serving.check_conf``) both ask here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from ptxseg.compute.device import resolve_device
from ptxseg.inference.uncertainty import require_dropout
from ptxseg.model.checkpoint import CheckpointMetadata
from ptxseg.serving.dicomweb.settings import CONF_KEYS as PACS_CONF_KEYS
from ptxseg.serving.dicomweb.settings import ENVIRONMENT_KEYS as PACS_ENVIRONMENT_KEYS
from ptxseg.serving.settings import ServingSettings

__all__ = ["settings_without_effect"]

NEW_MODEL = "a new model is built in an empty model folder (--conf model_dir NEW_FOLDER)"


def settings_without_effect(
    settings: ServingSettings, served: CheckpointMetadata | None, environ: Mapping[str, str] = os.environ
) -> list[str]:
    """Why each given setting cannot take effect on the model ``served`` (None: a new one is built from ``settings``).

    Raises:
        ValueError: a setting that cannot be served without: PACS keys without a PACS (``PTXSEG_DICOMWEB_URL``,
            set by ``ptxseg serve --dicomweb``), or ``mc_samples`` for a model without dropout.

    Example:
        >>> settings = ServingSettings.from_conf({"encoder": "efficientnet-b0", "image_size": "256"})
        >>> for note in settings_without_effect(settings, CheckpointMetadata("efficientnet-b4", image_size=512)):
        ...     print(note)  # doctest: +ELLIPSIS
        encoder=efficientnet-b0 is ignored: the served model is an efficientnet-b4 U-Net, and ...
        image_size=256 is not the served model's 512 px: it predicts at 512 px, its own size; ...
        >>> settings_without_effect(ServingSettings.from_conf({"prescreen": "true"}), None, environ={})
        Traceback (most recent call last):
        ValueError: conf prescreen applies to a PACS only: serve one with ptxseg serve --dicomweb URL, or drop it
    """
    pacs_keys = sorted(settings.given_keys & PACS_CONF_KEYS)
    if pacs_keys and not environ.get(PACS_ENVIRONMENT_KEYS["url"]):
        them = "them" if len(pacs_keys) > 1 else "it"
        raise ValueError(
            f"conf {', '.join(pacs_keys)} {'apply' if len(pacs_keys) > 1 else 'applies'} to a PACS only: serve one "
            f"with ptxseg serve --dicomweb URL, or drop {them}"
        )
    if settings.mc_samples:
        new_model = CheckpointMetadata(settings.encoder, image_size=settings.image_size, dropout=settings.dropout)
        require_dropout(served or new_model, "the served model" if served else "the new model (conf dropout 0)")
    if served is None:
        return []
    return [
        *_new_model_keys(settings, served),
        *_image_size(settings, served),
        *_training_threads(settings),
    ]


def _new_model_keys(settings: ServingSettings, served: CheckpointMetadata) -> list[str]:
    notes = []
    given = settings.given_keys
    if "encoder" in given and settings.encoder != served.encoder:
        notes.append(
            f"encoder={settings.encoder} is ignored: the served model is an {served.encoder} U-Net, and encoder "
            f"shapes a new model only; {NEW_MODEL}"
        )
    if "dropout" in given and settings.dropout != served.dropout:
        notes.append(
            f"dropout={settings.dropout} is ignored: the served model has dropout {served.dropout}, and dropout "
            f"shapes a new model only; {NEW_MODEL}"
        )
    if "encoder_weights" in given:
        notes.append(
            f"encoder_weights={settings.encoder_weights} is ignored: it seeds the encoder of a new model only, and "
            f"the model folder has one (encoder weights {served.encoder_weights}); {NEW_MODEL}"
        )
    return notes


def _image_size(settings: ServingSettings, served: CheckpointMetadata) -> list[str]:
    if settings.image_size == served.image_size:
        return []
    given = "" if "image_size" in settings.given_keys else " (the default)"
    return [
        f"image_size={settings.image_size}{given} is not the served model's {served.image_size} px: it predicts at "
        f"{served.image_size} px, its own size; fine-tuning trains the challenger at {settings.image_size} px, "
        f"which predicts at that size once promoted. To keep {served.image_size} px, give --conf image_size "
        f"{served.image_size}"
    ]


def _training_threads(settings: ServingSettings) -> list[str]:
    device = resolve_device(settings.device)
    if "train_threads" not in settings.given_keys or device == "cpu":
        return []
    return [f"train_threads={settings.train_threads} is ignored: the server trains on {device}, not on the CPU"]
