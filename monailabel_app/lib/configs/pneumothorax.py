"""The pneumothorax task's configuration: the one place that reads MONAI Label ``--conf`` strings.

Each key is parsed once into a typed attribute; unknown keys and bad values stop the server at start with a
message listing what is valid. The served model (a ``ptxseg`` Predictor) is built here once, lazily, shared by
the inference task, the scoring method and the trainer, and reloaded when fine-tuning replaces the checkpoint.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from ptxseg.compute.device import resolve_device
from ptxseg.inference.predictor import Predictor
from ptxseg.inference.runtimes import BACKEND_KINDS
from ptxseg.inference.uncertainty import FlipUncertainty, McDropoutUncertainty, Uncertainty, require_dropout
from ptxseg.model.checkpoint import CheckpointMetadata, load_checkpoint, load_model, save_checkpoint
from ptxseg.model.factory import build_model
from ptxseg.model.network import SUPPORTED_ENCODERS, describe_weights
from ptxseg.options.values import check_dropout, check_input_side
from ptxseg.serving.dicomweb.settings import CONF_KEYS as PACS_CONF_KEYS
from ptxseg.serving.store import ModelRecord, ModelStore
from ptxseg.transforms.postprocess import ThresholdPostprocess

LOGGER = logging.getLogger(__name__)

# Keys MONAI Label itself reads from conf; accepted and left to it.
FRAMEWORK_KEYS = frozenset({"server_mode"})


def _parse_bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _parse_optional_path(value: str) -> str | None:
    return value or None


# Field annotations are strings (postponed evaluation): one parser per annotation used below.
CONF_PARSERS = {"int": int, "float": float, "bool": _parse_bool, "str": str, "str | None": _parse_optional_path}


@dataclass(frozen=True)
class PneumothoraxSettings:
    """Typed app settings; every field is a ``--conf KEY VALUE`` key (see the README table).

    ``batch_size`` 0 means: 32 on GPU (the paper), 4 on CPU. ``model_dir`` empty means ``<app>/model``.
    ``mc_samples`` 0 scores uncertainty by flip-TTA; N >= 2 by N MC-dropout draws (the model needs dropout:
    ``dropout`` builds a new model with it). ``train_threads`` 0 means: every CPU core but one.
    """

    encoder_weights: str | None = None
    model: str | None = None
    model_dir: str | None = None
    encoder: str = "efficientnet-b4"
    image_size: int = 512
    threshold: float = 0.5
    min_area: int = 0
    triage_threshold: float = 0.5
    device: str = "auto"
    backend: str = "auto"
    batch_size: int = 0
    epochs: int = 50
    learning_rate: float = 1e-4
    patience: int = 10
    val_fraction: float = 0.2
    amp: bool = True
    scoring_batch_size: int = 8
    max_upload_mb: int = 64
    mc_samples: int = 0
    dropout: float = 0.0
    train_threads: int = 0

    def __post_init__(self):
        if self.encoder not in SUPPORTED_ENCODERS:
            raise ValueError(f"encoder must be one of {', '.join(SUPPORTED_ENCODERS)}, got {self.encoder!r}")
        check_input_side(self.image_size)
        for name in ("threshold", "triage_threshold"):
            if not 0.0 < getattr(self, name) < 1.0:
                raise ValueError(f"{name} must lie strictly between 0 and 1, got {getattr(self, name)}")
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must lie strictly between 0 and 1, got {self.val_fraction}")
        for name in ("min_area", "batch_size", "train_threads"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("epochs", "patience", "scoring_batch_size", "max_upload_mb"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.mc_samples == 1 or self.mc_samples < 0:
            raise ValueError(f"mc_samples must be 0 (flip-TTA uncertainty) or >= 2 (MC dropout), got {self.mc_samples}")
        check_dropout(self.dropout)
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if self.backend not in BACKEND_KINDS:
            raise ValueError(f"backend must be one of {', '.join(BACKEND_KINDS)}, got {self.backend!r}")
        resolve_device(self.device)
        for name in ("encoder_weights", "model"):
            path = getattr(self, name)
            if path and not Path(path).is_file():
                raise ValueError(f"conf {name}: file {path} does not exist (a local file; nothing is downloaded)")

    @classmethod
    def from_conf(cls, conf: dict[str, str]) -> PneumothoraxSettings:
        """Parse MONAI Label's string conf; unknown keys are an error (a typo must not silently use a default)."""
        known = {item.name: item for item in fields(cls)}
        unknown = sorted(set(conf) - set(known) - FRAMEWORK_KEYS - PACS_CONF_KEYS)
        if unknown:
            raise ValueError(f"unknown conf key(s) {unknown}; valid keys: {sorted(set(known) | PACS_CONF_KEYS)}")
        values = {}
        for name, value in conf.items():
            if name in FRAMEWORK_KEYS or name in PACS_CONF_KEYS:  # the PACS keys are PacsSettings' to parse
                continue
            try:
                values[name] = CONF_PARSERS[known[name].type](value)
            except ValueError as error:
                raise ValueError(f"conf {name}={value!r}: {error}") from error
        return cls(**values)

    def training_threads(self) -> int:
        """CPU threads of a one-process CPU training run: ``train_threads``, else every core but one (at least one).

        The core left over keeps /infer responsive while the server trains: measured on 2 cores, a warm /infer
        slowed 3.2x beside a training run on every core and 2.0x beside one on all cores but one (RESULTS.md).
        """
        return self.train_threads or max(1, len(os.sched_getaffinity(0)) - 1)

    def training_batch_size(self, device: str) -> int:
        """The configured batch, or the default for the device: 32 on GPU (the paper), 4 on CPU."""
        if self.batch_size:
            return self.batch_size
        return 32 if device.startswith("cuda") else 4


class ServedModel:
    """The served checkpoint and its warm Predictor, reloaded when the checkpoint file changes.

    The first start writes an untrained model (random or ImageNet encoder) so that fine-tuning always starts
    from "the current model", and ``/info`` says plainly that it is untrained. A served file that does not load
    (corrupt, foreign, unsafe) is moved aside; the previous good model, else an untrained one, is served instead,
    and ``problem`` says why.
    """

    def __init__(self, settings: PneumothoraxSettings, model_dir: Path):
        self.settings = settings
        self.store = ModelStore(model_dir)
        self.problem: str | None = None
        self._lock = threading.Lock()
        self._predictor: Predictor | None = None
        self._loaded_stamp: tuple | None = None
        self._uncertainty: Uncertainty | None = None
        self._ensure_loadable_model()
        if settings.mc_samples:  # a model without dropout stops the server at start, not at the first scoring
            require_dropout(load_checkpoint(self.store.served_path)[1], self.store.served_path.name)

    def _ensure_loadable_model(self) -> None:
        if not self.store.has_model():
            self._install_initial()
            return
        problem = _load_problem(self.store.served_path)
        if problem is None:
            return
        rejected = self.store.reject_served()
        self.problem = f"the served model could not be loaded ({problem}); it was moved to {rejected.name}"
        if self.store.previous_path.is_file() and _load_problem(self.store.previous_path) is None:
            _, metadata = load_model(self.store.previous_path)
            self.store.install(self.store.previous_path, trained=bool(metadata.metrics), source="restored previous")
            self.problem += "; serving the previous model"
        else:
            self._install_initial()
            self.problem += "; serving an untrained model"
        LOGGER.error(self.problem)

    def _install_initial(self) -> None:
        if self.settings.model:
            problem = _load_problem(Path(self.settings.model))
            if problem is not None:
                raise ValueError(f"conf model={self.settings.model} cannot be served: {problem}")
            self.store.install(self.settings.model, trained=True, source=f"conf model={self.settings.model}")
            return
        settings = self.settings
        model = build_model(settings.encoder, encoder_weights=settings.encoder_weights, dropout=settings.dropout)
        metadata = CheckpointMetadata(settings.encoder, image_size=settings.image_size, dropout=settings.dropout)
        self.store.directory.mkdir(parents=True, exist_ok=True)
        staging = save_checkpoint(self.store.directory / ".initial.safetensors", model, metadata)
        self.store.install(staging, trained=False, weights=describe_weights(model), source="initial (untrained)")
        staging.unlink()

    @property
    def record(self) -> ModelRecord:
        """The served model's record (version, trained, validation Dice...)."""
        return self.store.read_record()

    def predictor(self) -> Predictor:
        """The warm predictor for the current checkpoint (reloaded after a promotion, else reused)."""
        with self._lock:
            stat = self.store.served_path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
            if self._predictor is None or stamp != self._loaded_stamp:
                self._predictor = Predictor.from_checkpoint(
                    self.store.served_path,
                    device=self.settings.device,
                    backend=self.settings.backend,
                    postprocess=ThresholdPostprocess(self.settings.threshold, self.settings.min_area),
                    triage_threshold=self.settings.triage_threshold,
                )
                self._predictor.backend = OneCallAtATime(self._predictor.backend)
                self._uncertainty = None
                self._loaded_stamp = stamp
            return self._predictor

    @property
    def uncertainty_method(self) -> str:
        """The name of the uncertainty measure active learning uses, without loading anything."""
        return McDropoutUncertainty.method if self.settings.mc_samples else FlipUncertainty.method

    def uncertainty(self) -> Uncertainty:
        """How active learning measures the current model's uncertainty: flip-TTA, or MC dropout (``mc_samples``)."""
        predictor = self.predictor()
        with self._lock:
            if self._uncertainty is None:
                samples = self.settings.mc_samples
                self._uncertainty = (
                    McDropoutUncertainty.from_checkpoint(self.store.served_path, samples, self.device())
                    if samples
                    else FlipUncertainty(predictor)
                )
            return self._uncertainty

    def warm_up(self) -> None:
        """Load the model and run one forward pass, so the runtime is built before the first annotator waits."""
        predictor = self.predictor()
        predictor.probability_maps(np.zeros((1, predictor.image_size, predictor.image_size), np.float32))

    def device(self) -> str:
        """The device inference runs on."""
        return resolve_device(self.settings.device)


class OneCallAtATime:
    """Let one thread at a time run the network. Inference runs in FastAPI's thread pool and active learning on
    the event loop; a compiled CPU model is not safe to call from two threads at once (OpenVINO answers "Infer
    Request is busy"), and one forward already uses every core, so waiting costs no throughput."""

    def __init__(self, backend):
        self.backend = backend
        self.name = backend.name
        self._lock = threading.Lock()

    def __call__(self, batch):
        with self._lock:
            return self.backend(batch)


def _load_problem(path: Path) -> str | None:
    """Why a checkpoint cannot be served, or None when it loads (safe loading: no pickled code runs)."""
    try:
        load_model(path)
    except (ValueError, OSError, RuntimeError) as error:
        return str(error)
    return None


def model_dir_for(app_dir: str, settings: PneumothoraxSettings) -> Path:
    """Where the served model lives: conf ``model_dir`` or ``<app>/model``."""
    return Path(settings.model_dir) if settings.model_dir else Path(app_dir) / "model"
