"""Background pre-screening of a PACS: each new instance the model is for inferred once per model version, newest
first, its SEG stored in the PACS and its result kept; everything else listed with the reason it was not analysed.

What a hospital archive holds, and what happens to it:

- instances the model is not for (a knee, a lateral, a child, a derived or multi-frame image: the declared
  ``ScreeningPolicy``) get no SEG and are listed as "not analysed: <reason>";
- an instance that fails (deleted between search and retrieval, unreadable, refused by the PACS, a model error) is
  recorded with its reason and retried with exponential back-off (``retry_s``, doubling) up to ``max_attempts``
  times per model version, then listed as "failed: <reason>"; it never holds up the others;
- a PACS that does not answer ends the round without recording the instance it was on (the next round takes it
  again); SEG UIDs are derived from (instance, model version), so a SEG stored just before an outage is the same
  instance when stored again, never a duplicate;
- newest first: the pending list is searched again (incrementally) every ``refresh_s`` during a round, so a study
  that arrives while a backlog is screened goes before the backlog. After a promotion, ``rescreen_days`` > 0 keeps
  older results of instances acquired more than that many days ago instead of screening the archive again.

Survives restarts: the ledger (``ptxseg.serving.dicomweb.ledger``, an append-only journal beside the studies'
state) records each instance's outcome, so nothing is inferred twice for one version and nothing is skipped.

Flags come only from a model qualified for triage (``ptxseg.evaluation.triage``); an unqualified model's results
are computed, stored and listed, marked "not qualified for triage", and never flag or reorder anything.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone

import pydicom
from pydicom.uid import generate_uid

from ptxseg.evaluation.triage import TriageQualification
from ptxseg.inference.predictor import Predictor
from ptxseg.inference.seg import seg_of_prediction
from ptxseg.io.reader import read_cxr
from ptxseg.serving.dicomweb.client import PacsUnavailable
from ptxseg.serving.dicomweb.eligibility import ScreeningRules
from ptxseg.serving.dicomweb.ledger import Ledger
from ptxseg.serving.dicomweb.studies import PacsStudies
from ptxseg.serving.monitoring.store import MonitorStore

__all__ = ["ModelForScreening", "Prescreener", "Screening"]

LOGGER = logging.getLogger(__name__)
SCREENED, NOT_ANALYSED, RETRYING, FAILED = "screened", "not analysed", "retrying", "failed"


@dataclass(frozen=True)
class ModelForScreening:
    """The model to screen with: its predictor, a version that names its weights, its triage qualification and the
    served model's record number (for monitoring; 0 outside the server)."""

    predictor: Predictor
    version: str
    qualification: TriageQualification
    record_version: int = 0


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
    image's info for the Slicer worklist); ``monitor`` records every result for drift monitoring.

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
        rules: ScreeningRules | None = None,
        monitor: MonitorStore | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.studies = studies
        self.model = model
        self.on_result = on_result
        self.rules = rules or ScreeningRules()
        self.monitor = monitor
        self.clock = clock
        self.ledger = Ledger(studies.folder)
        self._round = threading.Lock()
        self.last_error: str | None = None
        self.last_round: str | None = None
        self.qualification: TriageQualification | None = None

    def result(self, sop_uid: str) -> Screening | None:
        """The instance's latest screening result, or None (not screened, or not analysed, or failed)."""
        entry = self.ledger.get(sop_uid)
        if entry is None or entry.get("status") != SCREENED:
            return None
        return Screening(**{name: entry[name] for name in Screening.__dataclass_fields__})

    def run_once(self) -> int:
        """Screen, newest first, every instance not yet done with the current model version; returns how many were
        screened. A PACS outage ends the round (recorded in ``last_error``); the rest waits for the next round."""
        with self._round:
            screened = 0
            try:
                self.studies.refresh(force=True)
                model = self.model()
                self.qualification = model.qualification
                pending, searched = self._pending(model.version), time.monotonic()
                while pending:
                    screened += self._handle(pending.pop(0), model)
                    if time.monotonic() - searched >= self.rules.refresh_s:  # a new study goes first
                        self.studies.refresh(force=True)
                        pending, searched = self._pending(model.version), time.monotonic()
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
            except Exception:  # a broken model or state must not end pre-screening for every later study
                LOGGER.exception("pre-screening round failed")
            stop.wait(interval_s)

    def _pending(self, version: str) -> list[str]:
        return self.studies.pending(lambda uid: self._done(uid, version))

    def _done(self, sop_uid: str, version: str) -> bool:
        entry = self.ledger.get(sop_uid)
        if entry is None:
            return False
        status = entry.get("status")
        if status == NOT_ANALYSED:
            return entry.get("policy") == repr(self.rules.policy)  # a changed policy looks again
        if status == RETRYING:
            return entry.get("model_version") == version and entry["next_try"] > self.clock()
        if entry.get("model_version") == version:
            return True
        return status == SCREENED and self._older_than_rescreen(sop_uid)

    def _older_than_rescreen(self, sop_uid: str) -> bool:
        if not self.rules.rescreen_days:
            return False
        acquired = self.studies.ref(sop_uid).acquired[:8]
        cutoff = (datetime.now(timezone.utc) - timedelta(days=self.rules.rescreen_days)).strftime("%Y%m%d")
        return len(acquired) == 8 and acquired < cutoff

    def _handle(self, sop_uid: str, model: ModelForScreening) -> int:
        """Screen one instance, or record why not; 1 when a SEG was stored. ``PacsUnavailable`` escapes only when
        the PACS itself does not answer."""
        try:
            path = self.studies.get_image_uri(sop_uid)
            refusal = self.rules.policy.refusal(pydicom.dcmread(path, stop_before_pixels=True))
            if refusal:
                self.ledger.put(sop_uid, {"status": NOT_ANALYSED, "reason": refusal, "policy": repr(self.rules.policy)})
                return 0
            self._screen(sop_uid, path, model)
            return 1
        except PacsUnavailable as error:
            self.studies.client.check()  # raises when the PACS is down: the round ends, nothing recorded
            self._failed(sop_uid, model.version, str(error))
        except Exception as error:  # one bad instance (unreadable, odd DICOM, a model error) never blocks the others
            self._failed(sop_uid, model.version, f"{type(error).__name__}: {error}")
        return 0

    def _screen(self, sop_uid: str, path: str, model: ModelForScreening) -> None:
        image = read_cxr(path)
        prediction = model.predictor.predict(image)
        qualified = model.qualification.qualified
        seg = seg_of_prediction(pydicom.dcmread(path), prediction, model.version, qualified)
        # The same instance and model version always make the same SEG: a resend after an outage replaces nothing.
        seg.SOPInstanceUID = generate_uid(entropy_srcs=[sop_uid, model.version, "prescreen instance"])
        seg.file_meta.MediaStorageSOPInstanceUID = seg.SOPInstanceUID
        seg.SeriesInstanceUID = generate_uid(entropy_srcs=[sop_uid, model.version, "prescreen series"])
        self.studies.mark_own_seg(seg.SOPInstanceUID)
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
        self.ledger.put(sop_uid, {"status": SCREENED, **asdict(result)})
        if self.monitor is not None:
            self.monitor.record_inference(
                sop_uid,
                path,
                image,
                prediction.mask,
                probability=result.probability,
                flag=result.flag,
                model_version=model.record_version,
            )
        if self.on_result is not None:
            self.on_result(result)

    def _failed(self, sop_uid: str, version: str, reason: str) -> None:
        previous = self.ledger.get(sop_uid) or {}
        attempts = previous.get("attempts", 0) + 1 if previous.get("model_version") == version else 1
        final = attempts >= self.rules.max_attempts
        entry = {"status": FAILED if final else RETRYING, "model_version": version, "reason": reason[:300]}
        entry.update(attempts=attempts, next_try=self.clock() + self.rules.retry_s * 2 ** (attempts - 1))
        self.ledger.put(sop_uid, entry)
        LOGGER.warning("pre-screening of instance %s failed (attempt %d): %s", sop_uid, attempts, reason[:300])

    def status(self) -> dict:
        """For ``/info`` and the worklist: the model's triage qualification in words, the last round, the last error,
        and how many instances are in each state."""
        qualification = self.qualification
        counts: dict[str, int] = {}
        for _, entry in self.ledger.items():
            counts[entry.get("status", SCREENED)] = counts.get(entry.get("status", SCREENED), 0) + 1
        return {
            "qualified_for_triage": qualification.qualified if qualification else None,
            "triage": qualification.reason if qualification else "no round yet",
            "screened": counts.get(SCREENED, 0),
            "outcomes": counts,
            "last_round": self.last_round,
            "pacs_error": self.last_error,
        }

    def worklist(self) -> list[dict]:
        """Every served instance with its state (``screened``, ``not analysed: <reason>``, ``failed: <reason>``,
        ``retrying: <reason>`` or ``pending``), probability, flag, acquisition time and whether a reader has reviewed
        it (submitted a label): flagged first (most probable first), then the rest newest acquisition first."""
        reviewed = set(self.studies.get_labeled_images())
        items = []
        for sop_uid in self.studies.list_images():
            ref = self.studies.ref(sop_uid)
            entry = self.ledger.get(sop_uid) or {}
            status = entry.get("status")
            screened = status == SCREENED
            items.append(
                {
                    "image": sop_uid,
                    "study": ref.study_uid,
                    "modality": ref.modality,
                    "acquired": ref.acquired,
                    "status": _state(entry),
                    "probability": entry["probability"] if screened else None,
                    "flag": entry["flag"] if screened else False,
                    "qualified": entry["qualified"] if screened else None,
                    "model_version": entry.get("model_version"),
                    "screened": screened,
                    "reviewed": sop_uid in reviewed,
                }
            )
        flagged = sorted((item for item in items if item["flag"]), key=lambda item: -item["probability"])
        others = sorted((item for item in items if not item["flag"]), key=lambda item: item["acquired"], reverse=True)
        return flagged + others


def _state(entry: dict) -> str:
    status = entry.get("status")
    if status is None:
        return "pending"
    return status if status == SCREENED else f"{status}: {entry.get('reason', '')}"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
