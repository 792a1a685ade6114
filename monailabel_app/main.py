"""ptxseg's MONAI Label app: pneumothorax segmentation on chest X-rays for 3D Slicer.

Thin wiring: the conf is parsed once by ``lib.configs.pneumothorax``; every task is an adapter over ``ptxseg``.
"""

from __future__ import annotations

import logging
import random
import threading

from fastapi import HTTPException
from lib.activelearning.pneumothorax import PneumothoraxScoring, triage_strategy, uncertainty_strategy
from lib.configs.pneumothorax import PneumothoraxSettings, ServedModel, model_dir_for
from lib.datastore import PtxsegDatastore
from lib.dicomweb_datastore import DicomwebDatastore
from lib.infers.pneumothorax import PneumothoraxInfer
from lib.prescreening import Prescreening, WorklistTriage
from lib.trainers.pneumothorax import PneumothoraxTrainer
from monailabel.interfaces.app import MONAILabelApp
from monailabel.tasks.activelearning.first import First
from monailabel.tasks.activelearning.random import Random

import ptxseg
from ptxseg.serving.dicomweb.settings import PacsSettings

LOGGER = logging.getLogger(__name__)
TASK = "pneumothorax"
SCORING = "pneumothorax_scores"


class RandomStudy(Random):
    """MONAI Label's Random, which weights a study by the seconds since it was last offered; when every study was
    offered within the current second all weights are 0 and it fails. Then any unlabelled study is as good."""

    def __call__(self, request, datastore):
        try:
            return super().__call__(request, datastore)
        except ValueError:  # random.choices: "Total of weights must be greater than zero"
            images = datastore.get_unlabeled_images(request.get("label_tag"), request.get("labels"))
            return {"id": random.choice(images), "weight": 0}


class PtxsegApp(MONAILabelApp):
    """Inference, fine-tuning, active learning and triage for one task: ``pneumothorax``."""

    def __init__(self, app_dir: str, studies: str, conf: dict):
        # The init_* hooks run inside MONAILabelApp.__init__, so everything they use is built first.
        self.settings = PneumothoraxSettings.from_conf(conf)
        self.pacs = PacsSettings.from_environment(conf)
        self.prescreening: Prescreening | None = None
        self.served = ServedModel(self.settings, model_dir_for(app_dir, self.settings))
        record = self.served.record
        if not record.trained:
            LOGGER.warning(
                "serving an UNTRAINED model (encoder weights: %s): predictions mean nothing until it is fine-tuned "
                "or a trained checkpoint is given with --conf model PATH",
                record.weights,
            )
        super().__init__(
            app_dir=app_dir,
            studies=studies,
            conf=conf,
            name="ptxseg: pneumothorax on chest X-rays",
            description="EfficientNet-B4 U-Net pneumothorax segmentation, fine-tuning and triage",
            version=ptxseg.__version__,
            labels={TASK: 1},
        )

    def on_init_complete(self) -> None:
        """Server start (not training subprocesses): warm the model in the background, so the first /infer does not
        pay for loading it and compiling the CPU runtime."""
        super().on_init_complete()
        threading.Thread(target=self._warm_up, name="ptxseg-warm-up", daemon=True).start()
        if self.prescreening is not None:
            self.prescreening.start()

    def _warm_up(self) -> None:
        try:
            self.served.warm_up()
            LOGGER.info("model warmed up (%s)", self.served.predictor().backend.name)
        except Exception:  # a broken model reports its real error on the first request; serving goes on
            LOGGER.exception("model warm-up failed")

    def init_datastore(self) -> PtxsegDatastore | DicomwebDatastore:
        """A PACS over DICOMweb (``ptxseg serve --dicomweb``; ``studies`` holds its local state), else a local
        studies folder (PACS-exported DICOM, PNG, NRRD, NIfTI) with validated labels."""
        if self.pacs is not None:
            datastore = DicomwebDatastore(self.pacs.studies(self.studies))
            if self.pacs.prescreen:
                self.prescreening = Prescreening(self.served, datastore, self.pacs)
            return datastore
        return PtxsegDatastore(self.studies, max_upload_bytes=self.settings.max_upload_mb * 2**20)

    def init_infers(self) -> dict:
        """The one inference task."""
        return {TASK: PneumothoraxInfer(self.served)}

    def init_trainers(self) -> dict:
        """The one fine-tuning task."""
        return {TASK: PneumothoraxTrainer(self.served, self.settings)}

    def init_strategies(self) -> dict:
        """How the next study to label is chosen."""
        batch = self.settings.scoring_batch_size
        return {
            "uncertainty": uncertainty_strategy(self.served, batch),
            "triage": WorklistTriage(self.prescreening) if self.prescreening else triage_strategy(self.served, batch),
            "random": RandomStudy(),
            "first": First(),
        }

    def init_scoring_methods(self) -> dict:
        """Scores behind the uncertainty and triage strategies and the Slicer worklist."""
        return {SCORING: PneumothoraxScoring(self.served, self.settings.scoring_batch_size)}

    def infer(self, request: dict, datastore=None) -> dict:
        """Only ids of readable studies are inferred: never a server path (the stock app reads any file)."""
        request = {**request, "image": str(self.datastore().image_path(request.get("image", "")))}
        return super().infer(request, datastore)

    def info(self) -> dict:
        """MONAI Label's info plus the truth about the served model (cheap: reads one small JSON file)."""
        info = super().info()
        record = self.served.record
        info["ptxseg"] = {
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
            "problem": self.served.problem,
            "device": self.served.device(),
            "image_size": self.settings.image_size,
            "triage_threshold": self.settings.triage_threshold,
            "uncertainty": self.served.uncertainty_method,
            "ptxseg_version": ptxseg.__version__,
        }
        if self.prescreening is not None:
            info["ptxseg"]["prescreen"] = self.prescreening.prescreener.status()
        return info

    def worklist(self) -> dict:
        """``GET /worklist/``: the pre-screening worklist (404 when pre-screening is off)."""
        if self.prescreening is None:
            raise HTTPException(404, "pre-screening is off: serve a PACS with --dicomweb URL --conf prescreen true")
        return self.prescreening.worklist()
