"""The client algorithm: one site's part of a round, and its champion/challenger decision on the global model.

ptxseg's own trainer does the work (no bundle configs are executed, unlike MONAI's ``MonaiAlgo``: GHSA-x6pr-233j-x5cw):
the site writes the received arrays as a checkpoint, judges it on its validation split, fine-tunes it on its
``labels/final`` for ``local_epochs`` with the recipe local fine-tuning uses, and returns the weights and numbers. Only
arrays and metrics leave the site; images, labels and ids never do. Nothing here imports FLARE, so it is tested alone.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from ptxseg.compute.device import resolve_device
from ptxseg.datasets.specs import parse_data_spec
from ptxseg.datasets.splits import split_by_id
from ptxseg.evaluation.triage import qualify_checkpoint
from ptxseg.federated.options import RoundOptions
from ptxseg.federated.site_config import SiteConfig
from ptxseg.federated.weights import checkpoint_weights, write_weights_checkpoint
from ptxseg.model.checkpoint import CheckpointMetadata
from ptxseg.serving.promotion import decide_promotion, fine_tune_config
from ptxseg.serving.store import ModelStore
from ptxseg.serving.training_stats import STATS_NAME, TrainingStats
from ptxseg.training.loop import train
from ptxseg.training.validate import evaluate_checkpoint

__all__ = ["RoundResult", "SiteTrainer", "shared_metrics"]

LOGGER = logging.getLogger(__name__)
SOURCE = "federated fine-tuning (FedAvg)"


@dataclass
class RoundResult:
    """What a site sends back after a round: the weights, its validation numbers, and its training image count."""

    weights: dict[str, np.ndarray]
    metrics: dict[str, float]
    training_images: int


def shared_metrics(prefix: str, metrics: Mapping) -> dict[str, float]:
    """The numeric validation metrics under ``prefix`` (undefined pooled ratios are left out, never invented).

    Example:
        >>> shared_metrics("global_", {"per_image_dice": 0.9, "pooled_iou": None, "n_images": 4})
        {'global_per_image_dice': 0.9, 'global_n_images': 4.0}
    """
    return {f"{prefix}{name}": float(value) for name, value in metrics.items() if isinstance(value, (int, float))}


class SiteTrainer:
    """A site's fine-tuning on its own labels, judged on its own validation split (a stable hash of the ids).

    Example:
        >>> trainer = SiteTrainer(read_site_config("site-1"))  # doctest: +SKIP
        >>> trainer.train_round(global_weights, RoundOptions(), 0, 5).metrics["global_per_image_dice"]  # doctest: +SKIP
        0.71
    """

    def __init__(self, site: SiteConfig):
        self.site = site
        self.settings = site.settings()
        self.store = ModelStore(site.model_dir)
        self.stats = TrainingStats(site.model_dir / STATS_NAME)

    def _device(self) -> str:
        """The site's training device; on CPU the app's training threads (sites of a simulator share the cores)."""
        device = resolve_device(self.settings.device)
        if device == "cpu":
            torch.set_num_threads(self.settings.training_threads())
        return device

    def _failed(self, error: Exception, started: float) -> None:
        """Say in the stats file why the site's part failed (the served model is unchanged), as local runs do."""
        reason = f"federated: {type(error).__name__}: {error}"
        self.stats.write({"status": "failed", "reason": reason, "total_time": round(time.time() - started, 1)})
        LOGGER.exception("federated fine-tuning failed at %s", self.site.name)

    def split(self, options: RoundOptions) -> tuple[list, list]:
        """(train, validation) of the site's labelled studies, read afresh each round (new labels join)."""
        studies = self.site.studies
        if not (studies / "labels" / "final").is_dir():
            raise ValueError(f"site {self.site.name}: {studies} has no labels/final; submit labels before federating")
        return split_by_id(parse_data_spec(f"monailabel:{studies}"), options.val_fraction)

    def _global_checkpoint(self, weights: Mapping, options: RoundOptions, folder: Path) -> Path:
        """The received arrays as a checkpoint with this site's post-processing threshold."""
        postprocess = {"kind": "threshold", "threshold": self.settings.threshold, "min_area": 0}
        metadata = CheckpointMetadata(image_size=options.image_size, postprocess=postprocess)
        return write_weights_checkpoint(weights, metadata, folder / "global.safetensors")

    def train_round(self, weights: Mapping, options: RoundOptions, round_number: int, total_rounds: int) -> RoundResult:
        """Judge the global model here, fine-tune it for ``options.local_epochs``, return the result."""
        started = time.time()
        try:
            return self._train_round(weights, options, round_number, total_rounds, started)
        except Exception as error:
            self._failed(error, started)
            raise

    def promote(self, weights: Mapping, options: RoundOptions, rounds: int) -> dict:
        """The global model as a challenger here: installed only if not worse on this site's validation split.

        The outcome goes into the model store's record (``/info``'s last training) and the stats file, as a local
        fine-tuning run's does.
        """
        started = time.time()
        try:
            return self._promote(weights, options, rounds, started)
        except Exception as error:
            self._failed(error, started)
            raise

    def _train_round(
        self, weights: Mapping, options: RoundOptions, round_number: int, total_rounds: int, started: float
    ) -> RoundResult:
        device = self._device()
        train_items, val_items = self.split(options)
        self.stats.write(
            {"status": "running", "federated_round": round_number + 1, "total_rounds": total_rounds, "epoch": 0}
        )
        config = fine_tune_config(
            replace(self.settings, image_size=options.image_size),
            device,
            {
                "epochs": options.local_epochs,
                "patience": options.local_epochs,
                "learning_rate": options.learning_rate,
                "batch_size": options.batch_size,
                "seed": options.seed + round_number,
                "max_steps_per_epoch": options.max_steps_per_epoch,
            },
        )
        with tempfile.TemporaryDirectory(prefix=".federated-") as folder:
            start = self._global_checkpoint(weights, options, Path(folder))
            global_metrics = evaluate_checkpoint(start, val_items, device, self.settings.threshold)
            result = train(
                train_items,
                val_items,
                config,
                Path(folder) / "run",
                init_checkpoint=start,
                data_summary={"train": len(train_items), "validation": len(val_items), "source": SOURCE},
            )
            if result.checkpoint is None:
                raise RuntimeError(f"site {self.site.name}: local training produced no checkpoint")
            local_weights, _ = checkpoint_weights(result.checkpoint)
        metrics = {**shared_metrics("global_", global_metrics), **shared_metrics("local_", result.best_metrics)}
        LOGGER.info(
            "Federated round %d/%d at %s -- global model Dice %.4f, after %d local epoch(s) %.4f (%.0f s)",
            round_number + 1,
            total_rounds,
            self.site.name,
            global_metrics["per_image_dice"],
            result.epochs_run,
            result.best_metrics["per_image_dice"],
            time.time() - started,
        )
        return RoundResult(local_weights, metrics, len(train_items))

    def _promote(self, weights: Mapping, options: RoundOptions, rounds: int, started: float) -> dict:
        device = self._device()
        train_items, val_items = self.split(options)
        champion = self.store.read_record()
        champion_dice = None
        if self.store.has_model():
            champion_dice = evaluate_checkpoint(self.store.served_path, val_items, device, self.settings.threshold)[
                "per_image_dice"
            ]
        with tempfile.TemporaryDirectory(prefix=".federated-") as folder:
            challenger = self._global_checkpoint(weights, options, Path(folder))
            challenger_metrics = evaluate_checkpoint(challenger, val_items, device, self.settings.threshold)
            outcome = {
                "kind": "federated",
                "federated_rounds": rounds,
                "champion_version": champion.version,
                "champion_dice": champion_dice,
                "challenger_dice": challenger_metrics["per_image_dice"],
                "training_images": len(train_items),
                "validation_images": len(val_items),
            }
            outcome["promoted"], outcome["reason"] = decide_promotion(
                champion.trained and self.store.has_model(), champion_dice, outcome["challenger_dice"], True
            )
            if outcome["promoted"]:
                qualification = qualify_checkpoint(
                    challenger,
                    val_items,
                    self.settings.triage_criteria,
                    self.settings.triage_threshold,
                    device=device,
                    backend=self.settings.backend,
                )
                outcome["triage"] = qualification.reason
                record = self.store.install(
                    challenger,
                    trained=True,
                    validation_dice=outcome["challenger_dice"],
                    training_images=len(train_items),
                    source=SOURCE,
                    outcome=outcome,
                )
            else:
                record = self.store.note_outcome(outcome)
        outcome["model_version"] = record.version
        self.stats.write(
            {
                "status": "done",
                "epoch": rounds,
                "total_epochs": rounds,
                "best_metric": outcome["challenger_dice"],
                "total_time": round(time.time() - started, 1),
                "ptxseg_result": outcome,
            }
        )
        LOGGER.info("Federated model at %s: promoted %s (%s)", self.site.name, outcome["promoted"], outcome["reason"])
        return outcome
