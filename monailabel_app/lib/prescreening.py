"""Background pre-screening in the app (``--conf prescreen true`` with ``ptxseg serve --dicomweb``): the served model
screens every new PACS instance (``ptxseg.serving.dicomweb.prescreen``); results reach the worklist endpoint,
``/info``, the triage strategy and the Slicer worklist (through each image's info).
"""

from __future__ import annotations

import logging
import threading

from monailabel.interfaces.tasks.strategy import Strategy

from lib.dicomweb_datastore import DicomwebDatastore
from ptxseg.evaluation.triage import recorded_qualification
from ptxseg.serving.dicomweb.prescreen import ModelForScreening, Prescreener, Screening
from ptxseg.serving.dicomweb.settings import PacsSettings
from ptxseg.serving.scores import FLAG_KEY, PROBABILITY_KEY
from ptxseg.serving.served_model import ServedModel

LOGGER = logging.getLogger(__name__)
TRIAGE_KEY = "ptx_triage"


class Prescreening:
    """The app's pre-screener and its thread."""

    def __init__(self, served: ServedModel, datastore: DicomwebDatastore, settings: PacsSettings):
        self.served = served
        self.settings = settings
        self.datastore = datastore
        self.prescreener = Prescreener(
            datastore.studies,
            self.model,
            on_result=self._keep_in_image_info,
            rules=settings.rules,
            monitor=datastore.monitor,
        )
        self._stop = threading.Event()

    def model(self) -> ModelForScreening:
        """The served model now, with its version and recorded triage qualification."""
        predictor = self.served.predictor()
        qualification = recorded_qualification(predictor.metadata.metrics)
        version = self.served.record.version
        return ModelForScreening(predictor, f"v{version}", qualification, record_version=version)

    def start(self) -> None:
        """Screen in a daemon thread every ``prescreen_interval_s``."""
        thread = threading.Thread(
            target=self.prescreener.run_forever,
            args=(self._stop, self.settings.prescreen_interval_s),
            name="ptxseg-prescreen",
            daemon=True,
        )
        thread.start()
        LOGGER.info("pre-screening %s every %g s", self.settings.url, self.settings.prescreen_interval_s)

    def worklist(self) -> dict:
        """``GET /worklist/``: the triage statement and the items, flagged first."""
        return {**self.prescreener.status(), "items": self.prescreener.worklist()}

    def _keep_in_image_info(self, result: Screening) -> None:
        triage = "qualified for triage" if result.qualified else "not qualified for triage"
        info = {PROBABILITY_KEY: result.probability, FLAG_KEY: result.flag, TRIAGE_KEY: triage}
        self.datastore.studies.update_image_info(result.sop_uid, info)


class WorklistTriage(Strategy):
    """``/activelearning/triage`` under pre-screening: the first worklist image no reader has reviewed (flagged
    first only with a qualified model)."""

    def __init__(self, prescreening: Prescreening):
        super().__init__("Pre-screening worklist: flagged first (only with a model qualified for triage)")
        self.prescreening = prescreening

    def __call__(self, request, datastore) -> dict | None:
        for item in self.prescreening.prescreener.worklist():
            if not item["reviewed"]:
                return {"id": item["image"], PROBABILITY_KEY: item["probability"], FLAG_KEY: item["flag"]}
        return None
