"""ptxseg's MONAI Label app: pneumothorax segmentation on chest X-rays for 3D Slicer.

As MONAI Label's radiology app, but for one task: the app asks its TaskConfig (``lib.configs.pneumothorax``, which
parses the conf) for the tasks. Everything the tasks do is ``ptxseg.serving``.
"""

from __future__ import annotations

from fastapi import HTTPException
from lib.activelearning.pneumothorax import RandomStudy
from lib.configs.pneumothorax import Pneumothorax
from lib.datastore import PtxsegDatastore
from lib.dicomweb_datastore import DicomwebDatastore
from lib.prescreening import Prescreening, WorklistTriage
from monailabel.interfaces.app import MONAILabelApp
from monailabel.tasks.activelearning.first import First

import ptxseg
from ptxseg.serving.app_location import app_model_dir
from ptxseg.serving.dicomweb.settings import PacsSettings

TASK = "pneumothorax"


class PtxsegApp(MONAILabelApp):
    """Inference, fine-tuning, active learning and triage for one task: ``pneumothorax``."""

    def __init__(self, app_dir: str, studies: str, conf: dict):
        # The init_* hooks run inside MONAILabelApp.__init__, so the task is built first.
        self.task = Pneumothorax()
        self.task.init(TASK, str(app_model_dir(app_dir)), conf, planner=None)
        self.pacs = PacsSettings.from_environment(conf)
        self.prescreening: Prescreening | None = None
        super().__init__(
            app_dir=app_dir,
            studies=studies,
            conf=conf,
            name="ptxseg: pneumothorax on chest X-rays",
            description="EfficientNet-B4 U-Net pneumothorax segmentation, fine-tuning and triage",
            version=ptxseg.__version__,
            labels=self.task.labels,
        )

    def on_init_complete(self) -> None:
        """Server start (not training subprocesses): warm the model in the background for the first /infer."""
        super().on_init_complete()
        self.task.served.warm_up_in_background(calibration_studies=self.datastore().image_files_folder())
        if self.prescreening is not None:
            self.prescreening.start()

    def init_datastore(self) -> PtxsegDatastore | DicomwebDatastore:
        """A PACS over DICOMweb (``ptxseg serve --dicomweb``; ``studies`` holds its local state), else a local
        studies folder (PACS-exported DICOM, PNG, NRRD, NIfTI) with validated labels."""
        if self.pacs is not None:
            datastore = DicomwebDatastore(self.pacs.studies(self.studies), monitor=self.task.monitor)
            if self.pacs.prescreen:
                self.prescreening = Prescreening(self.task.served, datastore, self.pacs)
            return datastore
        return PtxsegDatastore(self.studies, self.task.settings.max_upload_bytes, monitor=self.task.monitor)

    def init_infers(self) -> dict:
        """The one inference task."""
        return {TASK: self.task.infer()}

    def init_trainers(self) -> dict:
        """The one fine-tuning task."""
        return {TASK: self.task.trainer()}

    def init_strategies(self) -> dict:
        """How the next study to label is chosen: the task's scores, or at random, or the first."""
        strategies = {**self.task.strategy(), "random": RandomStudy(), "first": First()}
        if self.prescreening is not None:  # flagged first, and only with a model qualified for triage
            strategies["triage"] = WorklistTriage(self.prescreening)
        return strategies

    def init_scoring_methods(self) -> dict:
        """Scores behind the strategies and the Slicer worklist."""
        return self.task.scoring_method()

    def infer(self, request: dict, datastore=None) -> dict:
        """Only ids of readable studies are inferred: never a server path (the stock app reads any file)."""
        request = {**request, "image": str(self.datastore().image_path(request.get("image", "")))}
        return super().infer(request, datastore)

    def info(self) -> dict:
        """MONAI Label's info plus the truth about the served model."""
        described = self.task.served.describe()
        if self.prescreening is not None:
            described["prescreen"] = self.prescreening.prescreener.status()
        return {**super().info(), "ptxseg": described}

    def worklist(self) -> dict:
        """``GET /worklist/``: the pre-screening worklist (404 when pre-screening is off)."""
        if self.prescreening is None:
            raise HTTPException(404, "pre-screening is off: serve a PACS with --dicomweb URL --conf prescreen true")
        return self.prescreening.worklist()
