"""Background pre-screening of a PACS: every new CR/DX instance inferred once per model version, its SEG stored in the
PACS and its score kept, and the worklist (flagged first) built from the scores.

Survives restarts: the ledger (``prescreen.json`` beside the studies' state) records each instance screened with
which model version, written after its SEG is stored, so nothing is inferred twice for one version and nothing is
skipped. A PACS outage ends a round early without recording the instance it was on; the next round takes it again,
and its SEG's UIDs are derived from (instance, model version), so a SEG stored just before the outage is the same
instance when stored again, never a duplicate.

Flags come only from a model qualified for triage (``ptxseg.evaluation.triage``); an unqualified model's results
are computed, stored and listed, marked "not qualified for triage", and never flag or reorder anything.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

import pydicom
from pydicom.uid import generate_uid

from ptxseg.evaluation.triage import TriageQualification
from ptxseg.inference.predictor import Predictor
from ptxseg.inference.seg import seg_of_prediction
from ptxseg.io.atomic import write_text_atomically
from ptxseg.io.reader import read_cxr
from ptxseg.serving.dicomweb.client import PacsUnavailable
from ptxseg.serving.dicomweb.studies import PacsStudies

__all__ = ["LEDGER_NAME", "ModelForScreening", "Prescreener", "Screening"]

LOGGER = logging.getLogger(__name__)
LEDGER_NAME = "prescreen.json"


@dataclass(frozen=True)
class ModelForScreening:
    """The model to screen with: its predictor, a version that names its weights, and its triage qualification."""

    predictor: Predictor
    version: str
    qualification: TriageQualification


@dataclass(frozen=True)
class Screening:
    """One instance's pre-screening result (``flag`` is never True for an unqualified model)."""

    sop_uid: str
    model_version: str
    probability: float
    flag: bool
    qualified: bool
    seg_uid: str
    screened: str


class Prescreener:
    """Screens the served instances of ``studies`` with the model ``model()`` returns (asked once a round, so a
    promoted model takes over at the next round); ``on_result`` hears of each result (the app keeps it in the
    image's info for the Slicer worklist).

    Example:
        >>> model = ModelForScreening(predictor, "v3", qualification)  # doctest: +SKIP
        >>> prescreener = Prescreener(studies, lambda: model)  # doctest: +SKIP
        >>> prescreener.run_once()  # doctest: +SKIP
        4
        >>> prescreener.worklist()[0]["flag"]  # doctest: +SKIP
        True
    """

    def __init__(
        self,
        studies: PacsStudies,
        model: Callable[[], ModelForScreening],
        on_result: Callable[[Screening], None] | None = None,
    ):
        self.studies = studies
        self.model = model
        self.on_result = on_result
        self.path = studies.folder / LEDGER_NAME
        self._lock = threading.Lock()
        self.last_error: str | None = None
        self.last_round: str | None = None
        self.qualification: TriageQualification | None = None
        self._ledger: dict[str, dict] = json.loads(self.path.read_text()) if self.path.is_file() else {}

    def result(self, sop_uid: str) -> Screening | None:
        """The instance's latest screening, or None."""
        stored = self._ledger.get(sop_uid)
        return Screening(**stored) if stored else None

    def run_once(self) -> int:
        """Screen every instance not yet screened with the current model version; returns how many were screened.
        A PACS outage ends the round (recorded in ``last_error``); the rest waits for the next round."""
        with self._lock:
            screened = 0
            try:
                self.studies.refresh(force=True)
                model = self.model()
                self.qualification = model.qualification
                pending = self.studies.pending(lambda uid: self._done(uid, model.version))
                for sop_uid in pending:
                    self._screen(sop_uid, model)
                    screened += 1
                self.last_error = None
            except PacsUnavailable as error:
                self.last_error = str(error)
                LOGGER.warning("pre-screening paused (%d screened this round): %s", screened, error)
            self.last_round = _now()
            if screened:
                LOGGER.info("pre-screened %d new instances", screened)
            return screened

    def run_forever(self, stop: threading.Event, interval_s: float) -> None:
        """Rounds every ``interval_s`` seconds until ``stop`` is set; an unexpected error is logged, not fatal."""
        while not stop.is_set():
            try:
                self.run_once()
            except Exception:  # a bad image or model must not end pre-screening for every later study
                LOGGER.exception("pre-screening round failed")
            stop.wait(interval_s)

    def _done(self, sop_uid: str, version: str) -> bool:
        stored = self._ledger.get(sop_uid)
        return stored is not None and stored["model_version"] == version

    def _screen(self, sop_uid: str, model: ModelForScreening) -> None:
        path = self.studies.get_image_uri(sop_uid)
        prediction = model.predictor.predict(read_cxr(path))
        qualified = model.qualification.qualified
        seg = seg_of_prediction(pydicom.dcmread(path), prediction, model.version, qualified)
        # The same instance and model version always make the same SEG: a resend after an outage replaces nothing.
        seg.SOPInstanceUID = generate_uid(entropy_srcs=[sop_uid, model.version, "prescreen instance"])
        seg.file_meta.MediaStorageSOPInstanceUID = seg.SOPInstanceUID
        seg.SeriesInstanceUID = generate_uid(entropy_srcs=[sop_uid, model.version, "prescreen series"])
        self.studies.client.store(seg)
        result = Screening(
            sop_uid=sop_uid,
            model_version=model.version,
            probability=round(float(prediction.probability), 6),
            flag=bool(prediction.flag and qualified),
            qualified=qualified,
            seg_uid=seg.SOPInstanceUID,
            screened=_now(),
        )
        self._ledger[sop_uid] = asdict(result)
        write_text_atomically(self.path, json.dumps(self._ledger))
        if self.on_result is not None:
            self.on_result(result)

    def status(self) -> dict:
        """For ``/info`` and the worklist: the model's triage qualification in words, the last round, the last error."""
        qualification = self.qualification
        return {
            "qualified_for_triage": qualification.qualified if qualification else None,
            "triage": qualification.reason if qualification else "no round yet",
            "screened": len(self._ledger),
            "last_round": self.last_round,
            "pacs_error": self.last_error,
        }

    def worklist(self) -> list[dict]:
        """Every served instance with its probability, flag, acquisition time and whether a reader has reviewed it
        (submitted a label): flagged first (most probable first), then the rest newest acquisition first."""
        reviewed = set(self.studies.get_labeled_images())
        items = []
        for sop_uid in self.studies.list_images():
            ref = self.studies.ref(sop_uid)
            result = self.result(sop_uid)
            items.append(
                {
                    "image": sop_uid,
                    "study": ref.study_uid,
                    "modality": ref.modality,
                    "acquired": ref.acquired,
                    "probability": result.probability if result else None,
                    "flag": result.flag if result else False,
                    "qualified": result.qualified if result else None,
                    "model_version": result.model_version if result else None,
                    "screened": result is not None,
                    "reviewed": sop_uid in reviewed,
                }
            )
        flagged = sorted((item for item in items if item["flag"]), key=lambda item: -item["probability"])
        others = sorted((item for item in items if not item["flag"]), key=lambda item: item["acquired"], reverse=True)
        return flagged + others


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
