"""The served model: its checkpoint in the store, its warm Predictor, and what ``/info`` says about it.

Built once per server process and shared by the inference task, the scoring method and the trainer; reloaded when
fine-tuning (or ``ptxseg export --app``) replaces the checkpoint.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np

import ptxseg
from ptxseg.compute.device import resolve_device
from ptxseg.compute.memory import release_freed_memory
from ptxseg.inference.predictor import Predictor
from ptxseg.inference.runtime_choice import RuntimeChoice, current_decision, decided_runtime, served_runtime
from ptxseg.inference.uncertainty import FlipUncertainty, McDropoutUncertainty, Uncertainty
from ptxseg.model.checkpoint import CheckpointMetadata, load_model, save_checkpoint
from ptxseg.model.factory import build_model
from ptxseg.model.network import describe_weights
from ptxseg.serving.conf_model import plan_conf_model
from ptxseg.serving.install import install_checkpoint, load_problem, served_metadata
from ptxseg.serving.settings import ServingSettings
from ptxseg.serving.settings_effect import settings_without_effect
from ptxseg.serving.store import ModelRecord, ModelStore
from ptxseg.transforms.postprocess import ThresholdPostprocess

__all__ = ["OneCallAtATime", "ServedModel"]

LOGGER = logging.getLogger(__name__)


class ServedModel:
    """The served checkpoint and its warm Predictor, reloaded when the checkpoint file changes.

    The first start writes an untrained model (random or ImageNet encoder) so that fine-tuning always starts
    from "the current model", and ``/info`` says plainly that it is untrained. Conf ``model`` installs the checkpoint
    it names when it is not the served one (``ptxseg.serving.conf_model``). A served file that does not load
    (corrupt, foreign, unsafe) is moved aside; the previous good model, else an untrained one, is served instead,
    and ``problem`` says why. Each setting that cannot take effect on the served model is logged at start and listed
    in ``settings_ignored`` (``ptxseg.serving.settings_effect``).

    Raises:
        ValueError: conf ``model`` cannot be served, or a setting cannot be served without (``mc_samples`` on a
            model without dropout, PACS keys without a PACS).

    Example:
        >>> served = ServedModel(ServingSettings(), Path("monailabel_app/model"))  # doctest: +SKIP
        >>> served.predictor().predict(read_cxr("chest.dcm")).flag  # doctest: +SKIP
        False
    """

    def __init__(self, settings: ServingSettings, model_dir: Path):
        self.settings = settings
        self.store = ModelStore(model_dir)
        self.problem: str | None = None
        self.settings_ignored: list[str] = []
        self._lock = threading.Lock()
        self._predictor: Predictor | None = None
        self._loaded_stamp: tuple | None = None
        self._uncertainty: Uncertainty | None = None
        self._choice: RuntimeChoice | None = None
        self._choice_stamp: tuple | None = None
        self._applied_choice: RuntimeChoice | None = None
        self._serving = False
        self._calibration_studies: Path | None = None
        self._size_stamp: tuple | None = None
        self._served_size = settings.image_size
        built_from_settings = self._ensure_loadable_model()
        served = None if built_from_settings else served_metadata(self.store.served_path)
        self.settings_ignored += settings_without_effect(settings, served)
        for note in self.settings_ignored:
            LOGGER.warning("setting without effect: %s", note)

    def _ensure_loadable_model(self) -> bool:
        """Make the store serve a loadable model: conf ``model``'s, else the one there, else a new one (True)."""
        if self.store.has_model():
            self._set_aside_unloadable()
        if self.settings.model:
            self._apply_conf_model()
        elif not self.store.has_model():
            self._install_initial()
            if self.problem:
                self.problem += "; serving an untrained model"
            return True
        return False

    def _set_aside_unloadable(self) -> None:
        """Move an unloadable served file aside, putting the previous model back when it loads."""
        problem = load_problem(self.store.served_path)
        if problem is None:
            return
        rejected = self.store.reject_served()
        self.problem = f"the served model could not be loaded ({problem}); it was moved to {rejected.name}"
        if self.store.previous_path.is_file() and load_problem(self.store.previous_path) is None:
            _, metadata = load_model(self.store.previous_path)
            self.store.install(self.store.previous_path, trained=bool(metadata.metrics), source="restored previous")
            self.problem += "; serving the previous model"
        LOGGER.error(self.problem)

    def _apply_conf_model(self) -> None:
        model = self.settings.model
        plan = plan_conf_model(model, self.store)
        if plan.ignored:
            self.settings_ignored.append(plan.reason)
            return
        if plan.install:
            checkpoint = Path(model).resolve()
            install_checkpoint(
                self.store, checkpoint, source=f"conf model={model}", event="conf model", from_conf_model=True
            )
            if self.problem:  # the model put back above is now the previous one
                self.problem += f"; conf model={model} is served instead"
        LOGGER.info(plan.reason)

    def _install_initial(self) -> None:
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
        """The warm predictor for the current checkpoint (reloaded after a promotion, else reused).

        Until the runtimes of a new checkpoint are measured (in the background), the default CPU runtime serves;
        once the decision is there, the next call switches to the runtime it chose.
        """
        with self._lock:
            stat = self.store.served_path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
            choice = self._runtime_choice(stamp)
            if self._predictor is None or stamp != self._loaded_stamp or choice is not self._applied_choice:
                self._predictor = self._load_predictor(choice)
                self._predictor.backend = OneCallAtATime(self._predictor.backend)
                self._uncertainty = None
                self._loaded_stamp, self._applied_choice = stamp, choice
                release_freed_memory()  # the export, the compile and the replaced runtime are freed by now
            return self._predictor

    def _measures_runtimes(self) -> bool:
        settings = self.settings
        return settings.measure_runtimes and settings.backend == "auto" and self.device() == "cpu"

    def _runtime_choice(self, stamp: tuple) -> RuntimeChoice | None:
        """The measured decision for the served checkpoint, if there is one yet; the server (only it: MONAI Label's
        training and scoring subprocesses build this class too, and must not measure beside it) starts measuring
        if not."""
        if not self._measures_runtimes():
            return None
        if self._choice_stamp != stamp:
            self._choice_stamp = stamp
            size = self.served_image_size()
            self._choice = current_decision(self.store.served_path, size)
            if self._choice is None and self._serving:
                threading.Thread(target=self._measure, args=(stamp, size), name="ptxseg-runtimes", daemon=True).start()
        return self._choice

    def served_image_size(self) -> int:
        """The served checkpoint's own input side, at which it predicts and its runtimes are measured (conf
        ``image_size`` is the size of a new model and of fine-tuning); read again only when the file changes."""
        stat = self.store.served_path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._size_stamp:
            self._served_size = served_metadata(self.store.served_path).image_size
            self._size_stamp = stamp
        return self._served_size

    def _measure(self, stamp: tuple, image_size: int) -> None:
        try:
            choice = decided_runtime(self.store.served_path, image_size, studies=self._calibration_studies)
        except (RuntimeError, OSError, ValueError) as error:  # the default runtime keeps serving
            LOGGER.error("measuring the CPU runtimes failed; the default runtime keeps serving: %s", error)
            return
        with self._lock:
            if self._choice_stamp == stamp:
                self._choice = choice
        LOGGER.info("CPU runtime chosen by measurement: %s", choice.reason)

    def _load_predictor(self, choice: RuntimeChoice | None) -> Predictor:
        postprocess = ThresholdPostprocess(self.settings.threshold, self.settings.min_area)
        path = self.store.served_path
        if choice is None:
            return Predictor.from_checkpoint(
                path, self.settings.device, self.settings.backend, postprocess, self.settings.triage_threshold
            )
        model, metadata = load_model(path)
        runtime = served_runtime(choice, path, model, metadata.image_size)
        return Predictor(runtime, metadata.image_size, postprocess, self.settings.triage_threshold)

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

    def warm_up_in_background(self, calibration_studies: Path | None = None) -> threading.Thread:
        """``warm_up`` in a daemon thread; a failure is logged (the first request reports the real error).

        Called at server start: from then on this process also measures the runtimes of each new model, with int8
        calibrated on the images in ``calibration_studies`` (the served studies) when there are enough of them.
        """
        self._serving = True
        self._calibration_studies = calibration_studies
        thread = threading.Thread(target=self._warm_up_logged, name="ptxseg-warm-up", daemon=True)
        thread.start()
        return thread

    def _warm_up_logged(self) -> None:
        try:
            self.warm_up()
            LOGGER.info("model warmed up (%s)", self.predictor().backend.name)
        except Exception:  # a broken model reports its real error on the first request; serving goes on
            LOGGER.exception("model warm-up failed")

    def device(self) -> str:
        """The device inference runs on."""
        return resolve_device(self.settings.device)

    def describe(self) -> dict:
        """The truth about the served model for ``/info`` (cheap: reads one small JSON file)."""
        record = self.record
        return {
            "model": {
                "trained": record.trained,
                "version": record.version,
                "weights": record.weights if not record.trained else "trained",
                "validation_dice": record.validation_dice,
                "training_images": record.training_images,
                "source": record.source,
                "updated": record.updated,
                "last_training": record.history[-1] if record.history else None,
            },
            "problem": self.problem,
            "settings_ignored": self.settings_ignored,
            "device": self.device(),
            "image_size": self.served_image_size(),
            "fine_tuning_image_size": self.settings.image_size,
            "triage_threshold": self.settings.triage_threshold,
            "uncertainty": self.uncertainty_method,
            "runtime": self._describe_runtime(),
            "ptxseg_version": ptxseg.__version__,
        }

    def _describe_runtime(self) -> dict:
        """Which runtime serves and why: the measured decision with every candidate's numbers, or the default."""
        serving = self._predictor.backend.name if self._predictor is not None else None
        if not self._measures_runtimes():
            why = f"backend {self.settings.backend}" if self.settings.backend != "auto" else "not measured"
            return {"serving": serving, "reason": f"{why} (conf backend / measure_runtimes)", "choice": None}
        choice = self._choice
        if choice is None:
            return {"serving": serving, "reason": "measuring the CPU runtimes; the default serves meanwhile"}
        return {"serving": serving, "reason": choice.reason, "choice": choice.to_dict()}


class OneCallAtATime:
    """Let one thread at a time run the network. Inference runs in FastAPI's thread pool and active learning on
    the event loop; a compiled CPU model is not safe to call from two threads at once (OpenVINO answers "Infer
    Request is busy"), and one forward already uses every core, so waiting costs no throughput.

    Example:
        >>> double = OneCallAtATime(lambda batch: 2 * batch)
        >>> double(21)
        42
    """

    def __init__(self, backend):
        self.backend = backend
        self.name = getattr(backend, "name", type(backend).__name__)
        self._lock = threading.Lock()

    def __call__(self, batch):
        with self._lock:
            return self.backend(batch)
