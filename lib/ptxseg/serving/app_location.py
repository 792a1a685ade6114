"""Where the MONAI Label app lives and how its folder is laid out; the one place that knows it."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["APP_ENTRY", "APP_MODEL_FOLDER", "app_model_dir", "default_app_dir", "uses_ptxseg_settings"]

APP_ENTRY = "main.py"
APP_MODEL_FOLDER = "model"
# The module of an app whose conf is ptxseg's ``ServingSettings`` (other apps check their conf themselves).
SETTINGS_CONSUMER = Path("lib") / "configs" / "pneumothorax.py"
# This file is lib/ptxseg/serving/app_location.py in the checkout; the app is monailabel_app/ beside lib/.
_CHECKOUT = Path(__file__).resolve().parents[3]


def default_app_dir() -> Path:
    """The ``monailabel_app`` folder of the checkout this package was installed from (an editable install).

    Raises:
        ValueError: there is none (an installed wheel carries no app); the message says to pass ``--app``.

    Example:
        >>> (default_app_dir() / APP_ENTRY).is_file()
        True
    """
    candidate = _CHECKOUT / "monailabel_app"
    if not (candidate / APP_ENTRY).is_file():
        raise ValueError(f"no MONAI Label app found at {candidate}; pass --app <path to monailabel_app>")
    return candidate


def app_model_dir(app_or_model_dir: str | os.PathLike) -> Path:
    """The folder the app serves its model from: ``DIR/model`` when DIR is an app (has ``main.py``), else DIR.

    Example:
        >>> app_model_dir(default_app_dir()).name
        'model'
    """
    folder = Path(app_or_model_dir)
    return folder / APP_MODEL_FOLDER if (folder / APP_ENTRY).is_file() else folder


def uses_ptxseg_settings(app_dir: str | os.PathLike) -> bool:
    """Whether the app at ``app_dir`` reads its conf with ``ptxseg.serving.settings`` (ptxseg's own app does).

    Example:
        >>> uses_ptxseg_settings(default_app_dir())
        True
    """
    return (Path(app_dir) / SETTINGS_CONSUMER).is_file()
