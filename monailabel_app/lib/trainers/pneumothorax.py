"""The ``pneumothorax`` training task: fine-tune the served model on ``labels/final``, champion/challenger.

MONAI Label runs this in a subprocess (``DELETE /train`` kills it), so the served model only ever changes by one
atomic install at the very end, and only when the challenger's validation Dice is not worse than the champion's
on the same validation images.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import psutil
import torch
from monailabel.interfaces.tasks.train import TrainTask

from lib.configs.pneumothorax import PneumothoraxSettings, ServedModel
from ptxseg.datasets.labelled import LabelledImage
from ptxseg.datasets.splits import split_by_id
from ptxseg.training.config import TrainConfig
from ptxseg.training.loop import train
from ptxseg.training.torchrun import run_distributed_training
from ptxseg.training.validate import evaluate_checkpoint

LOGGER = logging.getLogger(__name__)
STATS_NAME = "train_stats.json"
RESULT_PREFIX = "ptxseg_result: "


# Request keys MONAI Label or its Slicer plugin add on their own; accepted and ignored.
def _parse_flag(value) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).strip().lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        return str(value).strip().lower() in ("1", "true", "yes", "on")
    raise ValueError(f"expected true or false, got {value!r}")


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
    "multi_gpu": _parse_flag,
}
ERROR_PREFIX = "ptxseg_error: "


def _decide(champion_trained: bool, outcome: dict, has_challenger: bool) -> tuple[bool, str]:
    """Champion/challenger: promote a challenger whose validation Dice is not worse than the champion's.

    An untrained champion (random or ImageNet-only weights) is always replaced: its Dice means nothing (an
    all-empty guess scores 1.0 on images without pneumothorax under the SIIM rule).
    """
    if not has_challenger:
        return False, "training produced no checkpoint"
    if not champion_trained:
        return True, "the served model was untrained"
    if outcome["challenger_dice"] >= outcome["champion_dice"]:
        return True, "validation Dice not worse than the served model's"
    return False, "validation Dice worse than the served model's: kept the served model"


def _process_count(requested: int | None, multi_gpu: bool, device: str) -> int:
    """DDP ranks for this run: as requested, else one per visible GPU when ``multi_gpu`` (MONAI Label's flag)."""
    if requested is not None:
        if requested < 1:
            raise ValueError(f"processes must be >= 1, got {requested}")
        return requested
    if multi_gpu and device.startswith("cuda"):
        return max(1, torch.cuda.device_count())
    return 1


class PneumothoraxTrainer(TrainTask):
    """Fine-tune from the served model with the paper's recipe (``ptxseg.training.loop``), then promote or keep."""

    def __init__(self, served: ServedModel, settings: PneumothoraxSettings):
        super().__init__("Fine-tune the pneumothorax model on labels/final (champion/challenger)")
        self.served = served
        self.settings = settings
        self.stats_path = served.store.directory / STATS_NAME

    def config(self) -> dict:
        """Options a client may override per run (shown in /info)."""
        return {
            "epochs": self.settings.epochs,
            "batch_size": self.settings.training_batch_size(self.served.device()),
            "learning_rate": self.settings.learning_rate,
            "patience": self.settings.patience,
            "val_fraction": self.settings.val_fraction,
        }

    def stats(self) -> dict:
        """Progress of the running or last run, as MONAI Label's Slicer plugin reads it (cheap: one small file).

        A run whose process is gone (the server was killed mid-training) reads as failed, not as running forever.
        """
        try:
            stats = json.loads(self.stats_path.read_text())
        except (OSError, ValueError):
            return {}
        if stats.get("status") == "running" and not psutil.pid_exists(stats.get("pid", -1)):
            reason = "interrupted: the training process is gone (server stopped or killed); served model unchanged"
            return {**stats, "status": "failed", "reason": reason}
        return stats

    def options(self, request: dict) -> dict:
        """This run's options: the configured defaults overridden by the request; unknown keys are an error."""
        options = self.config()
        for key, value in request.items():
            key = OPTION_ALIASES.get(key, key)
            if key in FRAMEWORK_KEYS:
                continue
            if key not in TRAIN_OPTIONS:
                raise ValueError(f"unknown training option {key!r}; valid: {sorted(TRAIN_OPTIONS)}")
            try:
                options[key] = TRAIN_OPTIONS[key](value)
            except (TypeError, ValueError) as error:
                raise ValueError(
                    f"training option {key}={value!r} is not a valid {TRAIN_OPTIONS[key].__name__}"
                ) from error
        return options

    def __call__(self, request: dict, datastore) -> dict:
        """Train, compare with the champion, promote or keep; a failure leaves the served model as it was and
        says why in the stats and the task log."""
        started = time.time()
        try:
            return self._run(request, datastore, started)
        except Exception as error:
            reason = f"{type(error).__name__}: {error}"
            self._write_stats({"status": "failed", "reason": reason, "total_time": round(time.time() - started, 1)})
            LOGGER.exception("training failed")
            print(ERROR_PREFIX + reason + " (the served model is unchanged)", flush=True)
            # GET /train/ shows the last 20 output lines: end on the reason, not on a traceback (logged above).
            raise SystemExit(1) from error

    def _run(self, request: dict, datastore, started: float) -> dict:
        options = self.options(request)
        items = [
            LabelledImage(i, Path(datastore.get_image_uri(i)), Path(datastore.get_label_uri(i, "final")))
            for i in sorted(datastore.get_labeled_images())
        ]
        train_items, val_items = split_by_id(items, float(options.pop("val_fraction")))
        device = self.served.device()
        processes = _process_count(options.pop("processes", None), options.pop("multi_gpu", False), device)
        if device == "cpu" and processes == 1:
            torch.set_num_threads(self.settings.training_threads())
        champion = self.served.record
        champion_metrics = evaluate_checkpoint(
            self.served.store.served_path, val_items, device, self.settings.threshold
        )
        config = TrainConfig(
            image_size=self.settings.image_size,
            amp=self.settings.amp,
            device=device,
            threshold=self.settings.threshold,
            monitor="per_image_dice",
            encoder=self.settings.encoder,
            **{key: value for key, value in options.items() if value is not None},
        )
        self._write_stats({"status": "running", "epoch": 0, "total_epochs": config.epochs, "start_ts": started})
        with tempfile.TemporaryDirectory(dir=self.served.store.directory, prefix=".run-") as run_dir:
            if processes > 1:
                result = run_distributed_training(
                    config,
                    [f"monailabel:{datastore.studies_folder()}"],
                    [item.image_id for item in val_items],
                    Path(run_dir),
                    processes,
                    init=self.served.store.served_path,
                )
            else:
                result = train(
                    train_items,
                    val_items,
                    config,
                    Path(run_dir),
                    init_checkpoint=self.served.store.served_path,
                    data_summary={"train": len(train_items), "validation": len(val_items), "source": "labels/final"},
                    on_epoch=lambda record: self._on_epoch(record, config, started),
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
            outcome["promoted"], outcome["reason"] = _decide(champion.trained, outcome, result.checkpoint is not None)
            if outcome["promoted"]:
                record = self.served.store.install(
                    result.checkpoint,
                    trained=True,
                    validation_dice=outcome["challenger_dice"],
                    training_images=len(train_items),
                    source="fine-tuned on labels/final",
                    outcome=outcome,
                )
            else:
                record = self.served.store.note_outcome(outcome)
        outcome["model_version"] = record.version
        self._write_stats(
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
        print(RESULT_PREFIX + json.dumps(outcome), flush=True)
        return outcome

    def _on_epoch(self, record: dict, config: TrainConfig, started: float) -> None:
        LOGGER.info(
            "Epoch: %d/%d -- validation per-image Dice %.4f", record["epoch"], config.epochs, record["per_image_dice"]
        )
        self._write_stats(
            {
                "status": "running",
                "epoch": record["epoch"],
                "total_epochs": config.epochs,
                "best_metric": record["best"].get("per_image_dice"),
                "last": {key: value for key, value in record.items() if key != "best"},
                "start_ts": started,
            }
        )

    def _write_stats(self, stats: dict) -> None:
        handle, temporary = tempfile.mkstemp(prefix=".stats-", dir=self.stats_path.parent)
        with os.fdopen(handle, "w") as stream:
            json.dump({**stats, "pid": os.getpid()}, stream, default=str)
        os.replace(temporary, self.stats_path)
