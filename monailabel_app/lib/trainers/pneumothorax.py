"""The ``pneumothorax`` training task: champion/challenger fine-tuning (``ptxseg.serving.promotion``) on
``labels/final``, in the subprocess MONAI Label starts for it (``DELETE /train`` kills it)."""

from __future__ import annotations

import json

from monailabel.interfaces.tasks.train import TrainTask

from ptxseg.serving.promotion import FineTuningFailed, default_options, finetune_and_promote
from ptxseg.serving.served_model import ServedModel
from ptxseg.serving.settings import ServingSettings
from ptxseg.serving.training_stats import STATS_NAME, TrainingStats

# GET /train/ shows the task's last output lines; clients read the outcome (or the reason) from these.
RESULT_PREFIX = "ptxseg_result: "
ERROR_PREFIX = "ptxseg_error: "


class PneumothoraxTrainer(TrainTask):
    """Fine-tune from the served model with the paper's recipe, then promote or keep."""

    def __init__(self, served: ServedModel, settings: ServingSettings):
        super().__init__("Fine-tune the pneumothorax model on labels/final (champion/challenger)")
        self.served = served
        self.settings = settings
        self.training_stats = TrainingStats(served.store.directory / STATS_NAME)

    def config(self) -> dict:
        """Options a client may override per run (shown in /info)."""
        return default_options(self.settings, self.served.device())

    def stats(self) -> dict:
        """Progress of the running or last run, as MONAI Label's Slicer plugin reads it (cheap: one small file)."""
        return self.training_stats.read()

    def __call__(self, request: dict, datastore) -> dict:
        """Train, compare with the champion, promote or keep; a failure leaves the served model as it was and
        ends the task's output on the reason (the traceback is in the log)."""
        try:
            outcome = finetune_and_promote(self.served, self.settings, request, datastore, self.training_stats)
        except FineTuningFailed as failure:
            print(ERROR_PREFIX + str(failure) + " (the served model is unchanged)", flush=True)
            raise SystemExit(1) from failure
        print(RESULT_PREFIX + json.dumps(outcome), flush=True)
        return outcome
