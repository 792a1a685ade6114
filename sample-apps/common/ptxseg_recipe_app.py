"""What the two sample apps share: a MONAI Label app, task and trainer for one recipe (ensemble or two-stage).

Each sample app's ``main.py`` names its recipe; everything the tasks do is ``ptxseg.serving`` (RecipeSettings,
RecipeServedModel, finetune_recipe_and_promote). The main app's adapters (the infer task, the active-learning
strategies, the datastore) are reused as they are, loaded from their files: their task name ``pneumothorax`` and
outputs are the same, so 3D Slicer's module works with every app unchanged.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from monailabel.interfaces.config import TaskConfig
from monailabel.interfaces.tasks.train import TrainTask
from monailabel.tasks.activelearning.first import First

import ptxseg
from ptxseg.serving.app_location import app_model_dir, main_app_module
from ptxseg.serving.monitoring.store import MonitorStore
from ptxseg.serving.promotion import FineTuningFailed, default_options
from ptxseg.serving.recipe_model import RecipeServedModel
from ptxseg.serving.recipe_promotion import finetune_recipe_and_promote
from ptxseg.serving.recipe_settings import RecipeSettings
from ptxseg.serving.training_stats import STATS_NAME, TrainingStats

LOGGER = logging.getLogger(__name__)
TASK = "pneumothorax"
SCORING = "pneumothorax_scores"
_infers = main_app_module("lib/infers/pneumothorax.py")
_trainers = main_app_module("lib/trainers/pneumothorax.py")
_strategies = main_app_module("lib/activelearning/pneumothorax.py")
_datastore = main_app_module("lib/datastore.py")


class RecipeTask(TaskConfig):
    """The ``pneumothorax`` task served by a recipe; a sample app's ``lib/configs/<kind>.py`` sets ``KIND``."""

    KIND = ""

    def init(self, name: str, model_dir: str, conf: dict[str, str], planner, **kwargs) -> None:
        """Parse the conf (``RecipeSettings``: one line naming a bad key) and load or create the served bundle."""
        super().init(name, model_dir, conf, planner, **kwargs)
        self.recipe = RecipeSettings.from_conf(self.KIND, conf)
        self.settings = self.recipe.serving
        self.served = RecipeServedModel(self.recipe, Path(self.settings.model_dir or model_dir))
        self.monitor = MonitorStore.beside(self.served.store.directory)
        self.labels = {name: 1}
        if not self.served.record.trained:
            LOGGER.warning(
                "serving an UNTRAINED %s model: fine-tune it or install one (ptxseg export --app)", self.KIND
            )

    def infer(self):
        """The main app's inference task over this recipe's predictor."""
        return _infers.PneumothoraxInfer(self.served, self.labels, self.monitor)

    def trainer(self) -> RecipeTrainer:
        """Champion/challenger fine-tuning of every member, promoted as a whole."""
        return RecipeTrainer(self.served)

    def strategy(self) -> dict:
        """Most uncertain (flip-TTA of the recipe) and most likely pneumothorax first, as in the main app."""
        batch = self.settings.scoring_batch_size
        return {
            "uncertainty": _strategies.uncertainty_strategy(self.served, batch),
            "triage": _strategies.triage_strategy(self.served, batch),
        }

    def scoring_method(self) -> dict:
        """Scores behind the strategies and the Slicer worklist."""
        return {SCORING: _strategies.PneumothoraxScoring(self.served, self.settings.scoring_batch_size)}


class RecipeTrainer(TrainTask):
    """Fine-tune every member from the served bundle, then promote the recipe or keep it (one result line)."""

    def __init__(self, served: RecipeServedModel):
        super().__init__(f"Fine-tune every network of the {served.recipe.kind} model on labels/final")
        self.served = served
        self.training_stats = TrainingStats(served.store.directory / STATS_NAME)

    def config(self) -> dict:
        """Options a client may override per run (shown in /info)."""
        return default_options(self.served.settings, self.served.device())

    def stats(self) -> dict:
        """Progress of the running or last run."""
        return self.training_stats.read()

    def __call__(self, request: dict, datastore) -> dict:
        """Train, judge champion and challenger as wholes, promote or keep; a failure says why in one line."""
        try:
            outcome = finetune_recipe_and_promote(self.served, request, datastore, self.training_stats)
        except FineTuningFailed as failure:
            print(_trainers.ERROR_PREFIX + str(failure) + " (the served model is unchanged)", flush=True)
            raise SystemExit(1) from failure
        print(_trainers.RESULT_PREFIX + json.dumps(outcome), flush=True)
        return outcome


class RecipeApp:
    """The app body of a sample app: ``class App(RecipeApp, MONAILabelApp)`` with ``TASK_CONFIG`` set.

    MONAI Label finds an app class by ``MONAILabelApp`` among its direct bases, so each ``main.py`` names it.
    """

    TASK_CONFIG: type[RecipeTask] = RecipeTask
    DESCRIPTION = ""

    def __init__(self, app_dir: str, studies: str, conf: dict):
        self.task = self.TASK_CONFIG()
        self.task.init(TASK, str(app_model_dir(app_dir)), conf, planner=None)
        super().__init__(
            app_dir=app_dir,
            studies=studies,
            conf=conf,
            name=f"ptxseg sample app: {self.task.KIND}",
            description=self.DESCRIPTION,
            version=ptxseg.__version__,
            labels=self.task.labels,
        )

    def on_init_complete(self) -> None:
        """Warm the model in the background for the first /infer (server start only)."""
        super().on_init_complete()
        self.task.served.warm_up_in_background()

    def init_datastore(self):
        """The main app's studies folder (DICOM, PNG, NRRD, NIfTI; validated labels)."""
        return _datastore.PtxsegDatastore(self.studies, self.task.settings.max_upload_bytes, monitor=self.task.monitor)

    def init_infers(self) -> dict:
        return {TASK: self.task.infer()}

    def init_trainers(self) -> dict:
        return {TASK: self.task.trainer()}

    def init_strategies(self) -> dict:
        return {**self.task.strategy(), "random": _strategies.RandomStudy(), "first": First()}

    def init_scoring_methods(self) -> dict:
        return self.task.scoring_method()

    def infer(self, request: dict, datastore=None) -> dict:
        """Only ids of readable studies are inferred, never a server path."""
        request = {**request, "image": str(self.datastore().image_path(request.get("image", "")))}
        return super().infer(request, datastore)

    def info(self) -> dict:
        """MONAI Label's info plus the recipe: kind, options, members and their versions."""
        return {**super().info(), "ptxseg": self.task.served.describe()}
