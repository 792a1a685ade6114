"""Champion/challenger fine-tuning: train the served model on the submitted labels, promote it only if not worse.

The served model only ever changes by one atomic install at the very end, and only when the challenger's validation
Dice is not worse than the champion's on the same validation images; a failed run leaves it as it was and says why
in the stats file.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, replace
from pathlib import Path
from typing import Protocol

import torch

from ptxseg.datasets.labelled import LabelledImage
from ptxseg.datasets.splits import split_by_id
from ptxseg.evaluation.triage import qualify_checkpoint
from ptxseg.options import check_at_least, parse_bool
from ptxseg.serving.served_model import ServedModel
from ptxseg.serving.settings import FINE_TUNING, ServingSettings
from ptxseg.serving.training_stats import TrainingStats
from ptxseg.training.config import TrainConfig
from ptxseg.training.loop import train
from ptxseg.training.torchrun import run_distributed_training
from ptxseg.training.validate import evaluate_checkpoint

__all__ = [
    "record_outcome",
    "FRAMEWORK_KEYS",
    "FineTuningFailed",
    "LabelledDatastore",
    "TRAIN_OPTIONS",
    "decide_promotion",
    "default_options",
    "finetune_and_promote",
    "parse_options",
    "process_count",
]

LOGGER = logging.getLogger(__name__)
# Request keys MONAI Label or its Slicer plugin add on their own; accepted and ignored.
FRAMEWORK_KEYS = frozenset({"model", "gpus", "local_rank", "client_id", "dataset", "device"})
OPTION_ALIASES = {"max_epochs": "epochs"}
TRAIN_OPTIONS = {
    "epochs": int,
    "batch_size": int,
    "learning_rate": float,
    "patience": int,
    "val_fraction": float,
    "seed": int,
    "max_steps_per_epoch": int,
    "processes": int,
    "multi_gpu": parse_bool,
}
LABEL_TAG = "final"


class FineTuningFailed(Exception):
    """A fine-tuning run failed; the served model is unchanged and the message is the stats file's reason."""


class LabelledDatastore(Protocol):
    """The part of a MONAI Label datastore fine-tuning uses."""

    def get_labeled_images(self) -> list[str]: ...

    def get_image_uri(self, image_id: str) -> str: ...

    def get_label_uri(self, label_id: str, label_tag: str) -> str: ...

    def studies_folder(self) -> Path: ...


def decide_promotion(
    champion_trained: bool, champion_dice: float | None, challenger_dice: float | None, has_challenger: bool
) -> tuple[bool, str]:
    """Champion/challenger: promote a challenger whose validation Dice is not worse than the champion's.

    An untrained champion (random or ImageNet-only weights) is always replaced: its Dice means nothing (an
    all-empty guess scores 1.0 on images without pneumothorax under the SIIM rule).

    Example:
        >>> decide_promotion(True, champion_dice=0.80, challenger_dice=0.80, has_challenger=True)
        (True, "validation Dice not worse than the served model's")
        >>> decide_promotion(True, champion_dice=0.80, challenger_dice=0.79, has_challenger=True)[0]
        False
    """
    if not has_challenger:
        return False, "training produced no checkpoint"
    if not champion_trained:
        return True, "the served model was untrained"
    if challenger_dice >= champion_dice:
        return True, "validation Dice not worse than the served model's"
    return False, "validation Dice worse than the served model's: kept the served model"


def process_count(requested: int | None, multi_gpu: bool, device: str) -> int:
    """DDP ranks for this run: as requested, else one per visible GPU when ``multi_gpu`` (MONAI Label's flag).

    Example:
        >>> process_count(None, multi_gpu=True, device="cpu"), process_count(2, multi_gpu=False, device="cpu")
        (1, 2)
    """
    if requested is not None:
        return check_at_least("processes", requested, 1)
    if multi_gpu and device.startswith("cuda"):
        return max(1, torch.cuda.device_count())
    return 1


def default_options(settings: ServingSettings, device: str) -> dict:
    """The options a client may override per run, at their configured values (shown in ``/info``).

    Example:
        >>> default_options(ServingSettings(epochs=5), "cpu")["epochs"], default_options(ServingSettings(), "cpu")
        (5, {'epochs': 50, 'batch_size': 4, 'learning_rate': 0.0001, 'patience': 10, 'val_fraction': 0.2})
    """
    return {
        "epochs": settings.epochs,
        "batch_size": settings.training_batch_size(device),
        "learning_rate": settings.learning_rate,
        "patience": settings.patience,
        "val_fraction": settings.val_fraction,
    }


def parse_options(request: Mapping, defaults: dict) -> dict:
    """This run's options: ``defaults`` overridden by the request; unknown keys are an error.

    Example:
        >>> parse_options({"max_epochs": "2", "multi_gpu": "no", "client_id": "slicer"}, {"epochs": 50})
        {'epochs': 2, 'multi_gpu': False}
        >>> parse_options({"learning_rat": 0.1}, {})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ValueError: unknown training option 'learning_rat'; valid: [...]
    """
    options = dict(defaults)
    for key, value in request.items():
        key = OPTION_ALIASES.get(key, key)
        if key in FRAMEWORK_KEYS:
            continue
        if key not in TRAIN_OPTIONS:
            raise ValueError(f"unknown training option {key!r}; valid: {sorted(TRAIN_OPTIONS)}")
        try:
            options[key] = TRAIN_OPTIONS[key](value)
        except (TypeError, ValueError) as error:
            raise ValueError(f"training option {key}={value!r} is not a valid {TRAIN_OPTIONS[key].__name__}") from error
    return options


def fine_tune_config(settings: ServingSettings, device: str, options: Mapping) -> TrainConfig:
    """``FINE_TUNING`` for this server's model and device, with the run's options (those not None) applied."""
    return replace(
        FINE_TUNING,
        image_size=settings.image_size,
        amp=settings.amp,
        device=device,
        threshold=settings.threshold,
        encoder=settings.encoder,
        **{key: value for key, value in options.items() if value is not None},
    )


def labelled_items(datastore: LabelledDatastore) -> list[LabelledImage]:
    """Every study with a ``final`` label, in id order."""
    return [
        LabelledImage(i, Path(datastore.get_image_uri(i)), Path(datastore.get_label_uri(i, LABEL_TAG)))
        for i in sorted(datastore.get_labeled_images())
    ]


def finetune_and_promote(
    served: ServedModel, settings: ServingSettings, request: Mapping, datastore: LabelledDatastore, stats: TrainingStats
) -> dict:
    """Evaluate the champion, train the challenger from it, promote it or keep the champion; returns the outcome.

    Several processes (``processes``, or ``multi_gpu`` on GPUs) train through ``ptxseg.training.torchrun``; one
    trains in this process. Progress and the result go to ``stats``.

    Raises:
        FineTuningFailed: anything went wrong (bad options, no labels, NaN loss, out of memory); the served model
            is unchanged and ``stats`` says why.

    Example:
        >>> finetune_and_promote(served, settings, {"max_epochs": 1}, datastore, stats)["promoted"]  # doctest: +SKIP
        True
    """
    started = time.time()
    try:
        return _run(served, settings, request, datastore, stats, started)
    except Exception as error:
        reason = f"{type(error).__name__}: {error}"
        stats.write({"status": "failed", "reason": reason, "total_time": round(time.time() - started, 1)})
        LOGGER.exception("training failed")
        raise FineTuningFailed(reason) from error


def _run(
    served: ServedModel,
    settings: ServingSettings,
    request: Mapping,
    datastore: LabelledDatastore,
    stats: TrainingStats,
    started: float,
) -> dict:
    device = served.device()
    options = parse_options(request, default_options(settings, device))
    train_items, val_items = split_by_id(labelled_items(datastore), float(options.pop("val_fraction")))
    processes = process_count(options.pop("processes", None), options.pop("multi_gpu", False), device)
    if device == "cpu" and processes == 1:
        torch.set_num_threads(settings.training_threads())
    champion = served.record
    champion_metrics = evaluate_checkpoint(served.store.served_path, val_items, device, settings.threshold)
    config = fine_tune_config(settings, device, options)
    stats.write({"status": "running", "epoch": 0, "total_epochs": config.epochs, "start_ts": started})
    with tempfile.TemporaryDirectory(dir=served.store.directory, prefix=".run-") as run_dir:
        if processes > 1:
            result = run_distributed_training(
                config,
                [f"monailabel:{datastore.studies_folder()}"],
                [item.image_id for item in val_items],
                Path(run_dir),
                processes,
                init=served.store.served_path,
            )
        else:
            result = train(
                train_items,
                val_items,
                config,
                Path(run_dir),
                init_checkpoint=served.store.served_path,
                data_summary={"train": len(train_items), "validation": len(val_items), "source": "labels/final"},
                on_epoch=_epoch_reporter(stats, config, started),
            )
        outcome = {
            "champion_version": champion.version,
            "champion_dice": champion_metrics["per_image_dice"],
            "challenger_dice": result.best_metrics.get("per_image_dice"),
            "training_images": len(train_items),
            "validation_images": len(val_items),
            "epochs": result.epochs_run,
            "stopped_early": result.stopped_early,
            "processes": processes,
            "cpu_threads": torch.get_num_threads() if device == "cpu" and processes == 1 else None,
        }
        outcome["promoted"], outcome["reason"] = decide_promotion(
            champion.trained, outcome["champion_dice"], outcome["challenger_dice"], result.checkpoint is not None
        )
        if outcome["promoted"]:
            # Measured now and recorded in the checkpoint: flags come only from a model qualified for triage.
            qualification = qualify_checkpoint(
                result.checkpoint,
                val_items,
                settings.triage_criteria,
                settings.triage_threshold,
                device=device,
                backend=settings.backend,
            )
            outcome["triage"] = qualification.reason
        record = record_outcome(served, result.checkpoint, outcome, len(train_items))
    outcome["model_version"] = record.version
    stats.write(
        {
            "status": "done",
            "epoch": result.epochs_run,
            "total_epochs": config.epochs,
            "best_metric": outcome["challenger_dice"],
            "total_time": round(time.time() - started, 1),
            "ptxseg_result": outcome,
            "config": asdict(config),
        }
    )
    return outcome


def _epoch_reporter(stats: TrainingStats, config: TrainConfig, started: float) -> Callable[[dict], None]:
    def report(record: dict) -> None:
        LOGGER.info(
            "Epoch: %d/%d -- validation per-image Dice %.4f", record["epoch"], config.epochs, record["per_image_dice"]
        )
        stats.write(
            {
                "status": "running",
                "epoch": record["epoch"],
                "total_epochs": config.epochs,
                "best_metric": record["best"].get("per_image_dice"),
                "last": {key: value for key, value in record.items() if key != "best"},
                "start_ts": started,
            }
        )

    return report


def record_outcome(served, checkpoint, outcome: dict, training_images: int):
    """Install the challenger when ``outcome`` says it is promoted, else note the refusal; the store keeps the
    outcome either way (``/info``'s last training) and returns the served model's record."""
    if outcome["promoted"]:
        return served.store.install(
            checkpoint,
            trained=True,
            validation_dice=outcome["challenger_dice"],
            training_images=training_images,
            source="fine-tuned on labels/final",
            outcome=outcome,
        )
    return served.store.note_outcome(outcome)
