"""The ``pneumothorax`` task: a MONAI Label TaskConfig whose tasks are adapters over ``ptxseg.serving``.

``init`` parses the conf once (``ServingSettings``, which refuses unknown keys and bad values) and builds the
served model once; the inference task, the trainer, the strategies and the scoring method share it.
"""

from __future__ import annotations

import logging
from pathlib import Path

from monailabel.interfaces.config import TaskConfig

from lib.activelearning.pneumothorax import PneumothoraxScoring, triage_strategy, uncertainty_strategy
from lib.infers.pneumothorax import PneumothoraxInfer
from lib.trainers.pneumothorax import PneumothoraxTrainer
from ptxseg.serving.monitoring.store import MonitorStore
from ptxseg.serving.served_model import ServedModel
from ptxseg.serving.settings import ServingSettings

LOGGER = logging.getLogger(__name__)
SCORING = "pneumothorax_scores"


class Pneumothorax(TaskConfig):
    """Inference, fine-tuning, active learning and triage for pneumothorax on chest X-rays."""

    def init(self, name: str, model_dir: str, conf: dict[str, str], planner, **kwargs) -> None:
        """Parse the conf and load (or create) the served model; ``model_dir`` is used unless conf names one."""
        super().init(name, model_dir, conf, planner, **kwargs)
        self.settings = ServingSettings.from_conf(conf)
        self.served = ServedModel(self.settings, Path(self.settings.model_dir or model_dir))
        self.monitor = MonitorStore.beside(self.served.store.directory)
        self.labels = {name: 1}
        record = self.served.record
        if not record.trained:
            LOGGER.warning(
                "serving an UNTRAINED model (encoder weights: %s): predictions mean nothing until it is fine-tuned "
                "or a trained checkpoint is given with --conf model PATH",
                record.weights,
            )

    def infer(self) -> PneumothoraxInfer:
        """The one inference task."""
        return PneumothoraxInfer(self.served, self.labels, self.monitor)

    def trainer(self) -> PneumothoraxTrainer:
        """The one fine-tuning task (champion/challenger)."""
        return PneumothoraxTrainer(self.served, self.settings)

    def strategy(self) -> dict:
        """Most uncertain study first, and most likely pneumothorax first (triage)."""
        batch = self.settings.scoring_batch_size
        return {"uncertainty": uncertainty_strategy(self.served, batch), "triage": triage_strategy(self.served, batch)}

    def scoring_method(self) -> dict:
        """Scores behind the strategies and the Slicer worklist."""
        return {SCORING: PneumothoraxScoring(self.served, self.settings.scoring_batch_size)}
