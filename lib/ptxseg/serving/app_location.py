"""Where the MONAI Label app lives and how its folder is laid out; the one place that knows it."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

__all__ = [
    "APP_ENTRY",
    "APP_MODEL_FOLDER",
    "app_model_dir",
    "default_app_dir",
    "main_app_module",
    "recipe_kind",
    "uses_ptxseg_settings",
]

APP_ENTRY = "main.py"
APP_MODEL_FOLDER = "model"
# The module of an app whose conf is ptxseg's ``ServingSettings`` (other apps check their conf themselves).
SETTINGS_CONSUMER = Path("lib") / "configs" / "pneumothorax.py"
# The sample apps' recipes (sample-apps/<kind>/lib/configs/<kind>.py); their conf is ``RecipeSettings``.
RECIPE_KINDS = ("ensemble", "two_stage")
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


def recipe_kind(app_dir: str | os.PathLike) -> str | None:
    """The recipe a sample app serves (``ensemble``, ``two_stage``: its ``lib/configs/<kind>.py``), or None.

    Example:
        >>> recipe_kind(default_app_dir().parent / "sample-apps" / "ensemble"), recipe_kind(default_app_dir())
        ('ensemble', None)
    """
    for kind in RECIPE_KINDS:
        if (Path(app_dir) / "lib" / "configs" / f"{kind}.py").is_file():
            return kind
    return None


def main_app_module(relative_path: str) -> ModuleType:
    """A module of the main app (``monailabel_app``), loaded from its file under a name of its own.

    The sample apps reuse the main app's adapters (infer task, datastore, endpoints) this way: importing them as
    ``lib.…`` would find the sample app's own ``lib`` (MONAI Label puts each app's folder first).

    Example:
        >>> main_app_module("lib/infers/pneumothorax.py").PneumothoraxInfer.__name__  # doctest: +SKIP
        'PneumothoraxInfer'
    """
    path = default_app_dir() / relative_path
    name = "ptxseg_main_app." + relative_path.removesuffix(".py").replace("/", ".")
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def uses_ptxseg_settings(app_dir: str | os.PathLike) -> bool:
    """Whether the app at ``app_dir`` reads its conf with ``ptxseg.serving.settings`` (ptxseg's own app does).

    Example:
        >>> uses_ptxseg_settings(default_app_dir())
        True
    """
    return (Path(app_dir) / SETTINGS_CONSUMER).is_file()
