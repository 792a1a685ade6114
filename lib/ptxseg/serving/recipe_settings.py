"""The settings of a sample app that serves a recipe (ensemble or two-stage): its own keys, then the main app's.

The recipe's keys are parsed here; every other key goes to ``ServingSettings`` unchanged, so fine-tuning, device,
runtime and upload settings mean the same in every app and unknown keys are refused the same way.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from ptxseg.model.bundle import check_options
from ptxseg.model.network import SUPPORTED_ENCODERS
from ptxseg.options import parse_bool
from ptxseg.serving.settings import APP_CONF_VARIABLE, ServingSettings
from ptxseg.training.config import DEFAULT_ENSEMBLE
from ptxseg.training.recipes import default_options

__all__ = ["RECIPE_KEYS", "RecipeSettings"]

# Conf keys a recipe app reads besides ServingSettings' (threshold and min_area are the main app's own keys).
RECIPE_KEYS = {
    "ensemble": ("members", "hflip", "top_threshold", "bottom_threshold"),
    "two_stage": ("classifier_threshold",),
}


@dataclass(frozen=True)
class RecipeSettings:
    """A recipe app's settings: ``kind``, the recipe's options and the shared ``ServingSettings``.

    Ensemble conf: ``members`` (comma-separated encoders, first one the published B4), ``hflip``, and the triplet
    ``top_threshold`` / ``min_area`` / ``bottom_threshold`` (``min_area`` 0 means the 1st place's 2000 px at
    1024 px, scaled to ``image_size``). Two-stage conf: ``classifier_threshold`` and the U-Net's ``threshold`` /
    ``min_area``; the classifier and the U-Net use ``encoder``.

    Example:
        >>> settings = RecipeSettings.from_conf("ensemble", {"members": "efficientnet-b0,efficientnet-b1"})
        >>> settings.members, settings.options["postprocess"]["kind"]
        (('efficientnet-b0', 'efficientnet-b1'), 'triplet')
        >>> RecipeSettings.from_conf("ensemble", {"members": "efficientnet-b0"})
        Traceback (most recent call last):
        ValueError: conf members: an ensemble needs two or more encoders, got ['efficientnet-b0']
    """

    kind: str
    serving: ServingSettings = field(default_factory=ServingSettings)
    members: tuple[str, ...] = DEFAULT_ENSEMBLE
    options: dict = field(default_factory=dict)

    @classmethod
    def from_conf(cls, kind: str, conf: Mapping[str, str]) -> RecipeSettings:
        """Parse a recipe app's conf; a bad value raises a ValueError naming the key and what is valid."""
        if kind not in RECIPE_KEYS:
            raise ValueError(f"unknown recipe {kind!r}; use one of {sorted(RECIPE_KEYS)}")
        own = {key: value for key, value in conf.items() if key in RECIPE_KEYS[kind]}
        serving = ServingSettings.from_conf({key: value for key, value in conf.items() if key not in own})
        if serving.mc_samples:
            raise ValueError("conf mc_samples: a recipe app scores uncertainty by flip-TTA; drop mc_samples")
        options = default_options(kind, serving.image_size)
        members = DEFAULT_ENSEMBLE
        try:
            if kind == "ensemble":
                members = _members(own.get("members"))
                options["hflip"] = parse_bool(own.get("hflip", "true"))
                triplet = options["postprocess"]
                triplet["top_threshold"] = float(own.get("top_threshold", triplet["top_threshold"]))
                triplet["bottom_threshold"] = float(own.get("bottom_threshold", triplet["bottom_threshold"]))
                triplet["min_area"] = serving.min_area or triplet["min_area"]
            else:
                options["classifier_threshold"] = float(own.get("classifier_threshold", 0.5))
                options["postprocess"].update(threshold=serving.threshold, min_area=serving.min_area)
            check_options(kind, options)
        except ValueError as error:
            raise ValueError(f"conf {error}" if str(error).startswith("members") else f"conf: {error}") from error
        return cls(kind, serving, members, options)

    @classmethod
    def from_environment(cls, kind: str, environ: Mapping[str, str] = os.environ) -> RecipeSettings:
        """The settings of the server process, from the conf MONAI Label passed in ``MONAI_LABEL_APP_CONF``.

        Example:
            >>> environ = {APP_CONF_VARIABLE: '{"classifier_threshold": "0.3"}'}
            >>> RecipeSettings.from_environment("two_stage", environ).options["classifier_threshold"]
            0.3
        """
        return cls.from_conf(kind, json.loads(environ.get(APP_CONF_VARIABLE) or "{}"))


def _members(value: str | None) -> tuple[str, ...]:
    if value is None:
        return DEFAULT_ENSEMBLE
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in SUPPORTED_ENCODERS]
    if unknown:
        raise ValueError(f"members: unknown encoder(s) {unknown}; use {', '.join(SUPPORTED_ENCODERS)}")
    if len(names) < 2:
        raise ValueError(f"members: an ensemble needs two or more encoders, got {names}")
    return tuple(names)
