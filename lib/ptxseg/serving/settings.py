"""The served app's settings: the one place that parses MONAI Label ``--conf`` strings.

Each key is parsed once into a typed attribute; unknown keys and bad values raise a ValueError that names the key
and what is valid, so a typo stops the server at start instead of silently using a default. The fine-tuning
defaults are ``TrainConfig``'s with a few fields replaced (``FINE_TUNING``), not a copy of them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from ptxseg.compute.device import resolve_device
from ptxseg.evaluation.triage import TriageCriteria
from ptxseg.inference.predictor import DEFAULT_TRIAGE_THRESHOLD
from ptxseg.inference.runtimes import BACKEND_KINDS
from ptxseg.model.network import SUPPORTED_ENCODERS
from ptxseg.options import (
    check_at_least,
    check_dropout,
    check_fraction,
    check_input_side,
    check_probability,
    parse_text,
)
from ptxseg.serving.dicomweb.settings import CONF_KEYS as PACS_CONF_KEYS
from ptxseg.serving.web_access import WebAccess, parse_list
from ptxseg.training.config import TrainConfig

__all__ = ["APP_CONF_VARIABLE", "FINE_TUNING", "FRAMEWORK_KEYS", "ServingSettings"]

# Keys MONAI Label itself reads from conf; accepted and left to it.
FRAMEWORK_KEYS = frozenset({"server_mode"})
# Where ``monailabel start_server`` (and ``ptxseg serve``) hand the conf to the server process, as JSON.
APP_CONF_VARIABLE = "MONAI_LABEL_APP_CONF"
# Fine-tuning a served model on a few institutional labels: shorter and less patient than a full training, and
# judged by the per-image Dice that the champion/challenger rule compares.
FINE_TUNING = replace(TrainConfig(), epochs=50, patience=10, monitor="per_image_dice")


@dataclass(frozen=True)
class ServingSettings:
    """Typed app settings; every field is a ``--conf KEY VALUE`` key (see the README table).

    ``batch_size`` 0 means: 32 on GPU (the paper), 4 on CPU. ``model_dir`` empty means the app's own (``<app>/model``).
    ``mc_samples`` 0 scores uncertainty by flip-TTA; N >= 2 by N MC-dropout draws (the model needs dropout:
    ``dropout`` builds a new model with it). ``train_threads`` 0 means: every CPU core but one.
    ``measure_runtimes`` (with ``backend auto`` on CPU): gate and time the CPU runtimes (int8 among them) for each
    new model in a child process, and serve the fastest that agrees with PyTorch fp32. ``expose_paths`` keeps the
    server's file paths in answers (only for a client on the same machine; hospital folder names can identify).
    ``allow_origins`` and ``allow_hosts`` (comma-separated) are the web page origins and host names the server
    accepts besides its own (``ptxseg.serving.web_access``).

    Example:
        >>> settings = ServingSettings.from_conf({"epochs": "3", "amp": "off"})
        >>> settings.epochs, settings.amp, settings.patience
        (3, False, 10)
    """

    encoder_weights: str | None = None
    model: str | None = None
    model_dir: str | None = None
    encoder: str = FINE_TUNING.encoder
    image_size: int = FINE_TUNING.image_size
    threshold: float = FINE_TUNING.threshold
    min_area: int = 0
    triage_threshold: float = DEFAULT_TRIAGE_THRESHOLD
    device: str = "auto"
    backend: str = "auto"
    batch_size: int = 0
    epochs: int = FINE_TUNING.epochs
    learning_rate: float = FINE_TUNING.learning_rate
    patience: int = FINE_TUNING.patience
    val_fraction: float = 0.2
    amp: bool = FINE_TUNING.amp
    scoring_batch_size: int = 8
    max_upload_mb: int = 64
    mc_samples: int = 0
    dropout: float = FINE_TUNING.dropout
    train_threads: int = 0
    measure_runtimes: bool = True
    expose_paths: bool = False
    allow_origins: str = ""
    allow_hosts: str = ""
    triage_min_positives: int = 20
    triage_min_negatives: int = 20
    triage_min_sensitivity: float = 0.8
    triage_min_specificity: float = 0.8
    # Not a conf key: the keys the conf gave (PACS keys included), so that a given value that cannot take effect is
    # reported even when it equals the default (``ptxseg.serving.settings_effect``).
    given_keys: frozenset[str] = field(default=frozenset(), compare=False)

    def __post_init__(self):
        self.triage_criteria  # noqa: B018 -- checks the triage minimums at start, not at the first promotion
        if self.encoder not in SUPPORTED_ENCODERS:
            raise ValueError(f"encoder must be one of {', '.join(SUPPORTED_ENCODERS)}, got {self.encoder!r}")
        check_input_side(self.image_size)
        check_probability("threshold", self.threshold)
        check_probability("triage_threshold", self.triage_threshold)
        check_fraction("val_fraction", self.val_fraction)
        for name in ("min_area", "batch_size", "train_threads"):
            check_at_least(name, getattr(self, name), 0)
        for name in ("epochs", "patience", "scoring_batch_size", "max_upload_mb"):
            check_at_least(name, getattr(self, name), 1)
        if self.mc_samples == 1 or self.mc_samples < 0:
            raise ValueError(f"mc_samples must be 0 (flip-TTA uncertainty) or >= 2 (MC dropout), got {self.mc_samples}")
        check_dropout(self.dropout)
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if self.backend not in BACKEND_KINDS:
            raise ValueError(f"backend must be one of {', '.join(BACKEND_KINDS)}, got {self.backend!r}")
        resolve_device(self.device)
        WebAccess(allowed_origins=parse_list(self.allow_origins), allowed_hosts=parse_list(self.allow_hosts))
        for name in ("encoder_weights", "model"):
            path = getattr(self, name)
            if path and not Path(path).is_file():
                raise ValueError(f"conf {name}: file {path} does not exist (a local file; nothing is downloaded)")

    @property
    def triage_criteria(self) -> TriageCriteria:
        """The bar a model must clear at promotion to flag studies (``ptxseg.evaluation.triage``)."""
        return TriageCriteria(
            self.triage_min_positives,
            self.triage_min_negatives,
            self.triage_min_sensitivity,
            self.triage_min_specificity,
        )

    @classmethod
    def from_conf(cls, conf: Mapping[str, str]) -> ServingSettings:
        """Parse MONAI Label's string conf; unknown keys are an error (a typo must not silently use a default).

        Example:
            >>> ServingSettings.from_conf({"learnin_rate": "0.1"})  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ValueError: unknown conf key(s) ['learnin_rate']; valid keys: [...]
            >>> ServingSettings.from_conf({"image_size": "big"})
            Traceback (most recent call last):
            ValueError: conf image_size='big': invalid literal for int() with base 10: 'big'
        """
        known = {item.name: item for item in fields(cls) if item.name != "given_keys"}
        unknown = sorted(set(conf) - set(known) - FRAMEWORK_KEYS - PACS_CONF_KEYS)
        if unknown:
            raise ValueError(f"unknown conf key(s) {unknown}; valid keys: {sorted(set(known) | PACS_CONF_KEYS)}")
        values = {}
        for name, value in conf.items():
            if name in FRAMEWORK_KEYS or name in PACS_CONF_KEYS:  # the PACS keys are PacsSettings' to parse
                continue
            values[name] = parse_text(name, known[name].type, value)
        return cls(**values, given_keys=frozenset(conf) - FRAMEWORK_KEYS)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> ServingSettings:
        """The settings of the server process: the conf MONAI Label passed in ``MONAI_LABEL_APP_CONF``.

        Example:
            >>> ServingSettings.from_environment({APP_CONF_VARIABLE: '{"max_upload_mb": "8"}'}).max_upload_bytes
            8388608
        """
        return cls.from_conf(json.loads(environ.get(APP_CONF_VARIABLE) or "{}"))

    @property
    def max_upload_bytes(self) -> int:
        """The largest accepted upload, in bytes."""
        return self.max_upload_mb * 2**20

    def training_threads(self) -> int:
        """CPU threads of a one-process CPU training run: ``train_threads``, else every core but one (at least one).

        The core left over keeps /infer responsive while the server trains: measured on 2 cores, a warm /infer
        slowed 3.2x beside a training run on every core and 2.0x beside one on all cores but one (RESULTS.md).

        Example:
            >>> ServingSettings(train_threads=3).training_threads()
            3
        """
        return self.train_threads or max(1, len(os.sched_getaffinity(0)) - 1)

    def training_batch_size(self, device: str) -> int:
        """The configured batch, or the default for the device: 32 on GPU (the paper), 4 on CPU.

        Example:
            >>> ServingSettings().training_batch_size("cpu"), ServingSettings(batch_size=2).training_batch_size("cuda")
            (4, 2)
        """
        if self.batch_size:
            return self.batch_size
        return FINE_TUNING.batch_size if device.startswith("cuda") else 4
