"""Check an app's conf before a server starts: ``python -m ptxseg.serving.check_conf APP_DIR CONF_JSON``.

Exit 0 when the conf is good (or the app does not read its conf with ``ServingSettings``: it checks its own), exit 2
with the reason as one line on stderr when it is not. ``ptxseg serve`` calls ``check_app_conf`` in a short-lived
process (``ptxseg.serving.short_lived``): the settings import torch and MONAI (about 1 GB), which the long-lived
``ptxseg serve`` parent must not keep resident.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ptxseg.serving.app_location import app_model_dir, recipe_kind, uses_ptxseg_settings

if TYPE_CHECKING:
    from ptxseg.model.checkpoint import CheckpointMetadata
    from ptxseg.serving.settings import ServingSettings

__all__ = ["BAD_CONF_STATUS", "check_app_conf", "main"]

BAD_CONF_STATUS = 2


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``CONF_JSON`` as the app at ``APP_DIR`` would; returns the exit status.

    Example:
        >>> from ptxseg.serving.app_location import default_app_dir
        >>> main([str(default_app_dir()), '{"epochs": "-1"}'])  # and "epochs must be >= 1, got -1" on stderr
        2
    """
    parser = argparse.ArgumentParser(prog="python -m ptxseg.serving.check_conf", description=__doc__.splitlines()[0])
    parser.add_argument("app_dir", help="the MONAI Label app folder")
    parser.add_argument("conf", help="the conf as a JSON object of strings")
    args = parser.parse_args(argv)
    try:
        check_app_conf(args.app_dir, json.loads(args.conf))
    except ValueError as error:
        print(error, file=sys.stderr)
        return BAD_CONF_STATUS
    return 0


def check_app_conf(app_dir: str | Path, conf: dict[str, str]) -> None:
    """Parse ``conf`` as the app at ``app_dir`` would (an app that does not read its conf with ptxseg's settings
    checks its own), and refuse what the server would refuse at start against its model folder: a conf ``model``
    that cannot be served, or a setting it cannot be served without (``ptxseg.serving.settings_effect``; those it
    serves without are the server's to say).

    Raises:
        ValueError: an unknown key, a bad value or a setting that cannot take effect, in one line saying what to do.

    Example:
        >>> from ptxseg.serving.app_location import default_app_dir
        >>> check_app_conf(default_app_dir(), {"epochs": "-1"})
        Traceback (most recent call last):
        ValueError: epochs must be >= 1, got -1
    """
    kind = recipe_kind(app_dir)
    if kind is None and not uses_ptxseg_settings(app_dir):
        return
    # Imported here, not above: importing this module must stay light.
    from ptxseg.serving.recipe_settings import RecipeSettings
    from ptxseg.serving.settings import ServingSettings
    from ptxseg.serving.settings_effect import settings_without_effect

    try:
        if kind is None:
            settings = ServingSettings.from_conf(conf)
            served = _metadata_to_serve(settings, Path(settings.model_dir or app_model_dir(app_dir)))
            settings_without_effect(settings, served)
        else:
            RecipeSettings.from_conf(kind, conf)
    except ValueError as error:
        raise ValueError(str(error).replace("\n", " ")) from None


def _metadata_to_serve(settings: ServingSettings, model_dir: Path) -> CheckpointMetadata | None:
    """The metadata of the model a server with ``settings`` would serve from ``model_dir``: conf ``model``'s when it
    would be installed, else the folder's; None when the server would build a new one (or put one back)."""
    from ptxseg.serving.conf_model import plan_conf_model
    from ptxseg.serving.install import served_metadata
    from ptxseg.serving.store import ModelStore

    store = ModelStore(model_dir)
    served = store.served_path if store.has_model() else None
    if settings.model and plan_conf_model(settings.model, store).install:
        served = Path(settings.model)
    if served is None:
        return None
    try:
        return served_metadata(served)
    except (ValueError, OSError, RuntimeError):  # the server sets an unloadable model aside and serves another
        return None


if __name__ == "__main__":
    sys.exit(main())
