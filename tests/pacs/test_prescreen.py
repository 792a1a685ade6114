"""Pre-screening a real Orthanc: each instance inferred once per model version (across restarts), its prediction SEG
stored, a new upload screened within a bounded time, flags only from a qualified model (flagged first in the
worklist), and an outage that delays the work without losing or duplicating any."""

import threading
import time

import pydicom

from ptxseg.evaluation.triage import TriageQualification, recorded_qualification
from ptxseg.inference.predictor import Predictor
from ptxseg.serving.dicomweb.client import PacsAuth, PacsClient
from ptxseg.serving.dicomweb.prescreen import ModelForScreening, Prescreener
from ptxseg.serving.dicomweb.studies import PacsStudies
from tests.support.pacs_images import write_cr_phantom
from tests.support.pacs_segs import automatic_segs

QUALIFIED = TriageQualification(True, "qualified for triage: sensitivity 0.900, specificity 0.900", 0.9, 0.9, 20, 20)


class CountingPredictor:
    """The real predictor, counting the images it is asked to infer."""

    def __init__(self, predictor):
        self.predictor, self.calls = predictor, 0

    def predict(self, image):
        self.calls += 1
        return self.predictor.predict(image)


def _upload(orthanc, folder, seed):
    path = write_cr_phantom(folder / f"cr-{seed}.dcm", seed=seed, AcquisitionDate=f"2026010{seed}")
    orthanc.upload(path)
    return pydicom.dcmread(path).SOPInstanceUID


def _prescreener(orthanc, state, model) -> Prescreener:
    client = PacsClient(orthanc.dicomweb, PacsAuth(*orthanc.auth), timeout_s=5)
    return Prescreener(PacsStudies(client, state, refresh_s=0), lambda: model)


def _model(checkpoint, version, qualification, threshold=0.5):
    predictor = Predictor.from_checkpoint(checkpoint, "cpu", "torch", triage_threshold=threshold)
    return ModelForScreening(CountingPredictor(predictor), version, qualification)


def test_an_unqualified_model_screens_once_and_flags_nothing(orthanc, tmp_path, checkpoint):
    uids = [_upload(orthanc, tmp_path, seed) for seed in (1, 2)]
    model = _model(checkpoint, "v1", recorded_qualification({}), threshold=0.01)  # would flag everything
    prescreener = _prescreener(orthanc, tmp_path / "state", model)

    assert prescreener.run_once() == 2
    predictions = automatic_segs(orthanc, tmp_path)
    assert sorted(predictions) == sorted(uids)
    assert all(not c.flag and not c.qualified for contents in predictions.values() for c in contents)
    worklist = prescreener.worklist()
    assert [item["flag"] for item in worklist] == [False, False]
    assert all(item["qualified"] is False and item["screened"] for item in worklist)
    assert prescreener.status()["triage"].startswith("not qualified for triage")

    restarted = _prescreener(orthanc, tmp_path / "state", model)  # a restart: the ledger is on disk
    assert restarted.run_once() == 0 and model.predictor.calls == 2


def test_a_new_upload_is_screened_within_a_bounded_time(orthanc, tmp_path, checkpoint):
    _upload(orthanc, tmp_path, 1)
    model = _model(checkpoint, "v1", QUALIFIED)
    prescreener = _prescreener(orthanc, tmp_path / "state", model)
    stop = threading.Event()
    worker = threading.Thread(target=prescreener.run_forever, args=(stop, 0.5), daemon=True)
    worker.start()
    try:
        new = _upload(orthanc, tmp_path, 2)
        deadline = time.monotonic() + 30
        while prescreener.result(new) is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert prescreener.result(new) is not None, "the new instance was not screened within 30 s"
    finally:
        stop.set()
        worker.join(30)
    assert new in automatic_segs(orthanc, tmp_path) and model.predictor.calls == 2


def test_only_a_qualified_model_flags_and_the_flagged_come_first(orthanc, tmp_path, checkpoint):
    uids = [_upload(orthanc, tmp_path, seed) for seed in (1, 2, 3)]
    first = _prescreener(orthanc, tmp_path / "state", _model(checkpoint, "v1", recorded_qualification({})))
    first.run_once()
    probabilities = {uid: first.result(uid).probability for uid in uids}
    highest = max(probabilities, key=probabilities.get)
    # A threshold just below the highest probability flags exactly that image.
    threshold = (sorted(probabilities.values())[-1] + sorted(probabilities.values())[-2]) / 2
    assert sorted(probabilities.values())[-1] > sorted(probabilities.values())[-2], "phantoms scored alike"

    second = _prescreener(orthanc, tmp_path / "state", _model(checkpoint, "v2", QUALIFIED, threshold))
    assert second.run_once() == 3  # a new model version screens everything again
    worklist = second.worklist()
    assert worklist[0]["image"] == highest and worklist[0]["flag"] and worklist[0]["qualified"]
    assert [item["flag"] for item in worklist[1:]] == [False, False]
    flagged = [c for c in automatic_segs(orthanc, tmp_path)[highest] if c.model_version == "v2"]
    assert len(flagged) == 1 and flagged[0].flag


def test_an_outage_delays_screening_without_losing_or_duplicating(orthanc, tmp_path, checkpoint):
    uid = _upload(orthanc, tmp_path, 1)
    model = _model(checkpoint, "v1", QUALIFIED)
    prescreener = _prescreener(orthanc, tmp_path / "state", model)
    orthanc.stop()
    started = time.monotonic()
    assert prescreener.run_once() == 0
    assert time.monotonic() - started < 15 and "unreachable" in prescreener.status()["pacs_error"]

    orthanc.start()
    assert prescreener.run_once() == 1
    assert prescreener.run_once() == 0
    assert len(automatic_segs(orthanc, tmp_path)[uid]) == 1
