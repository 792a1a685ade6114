"""Pre-screening a hospital's archive on a real Orthanc: only adult frontal chest radiographs get a SEG, everything
else a "not analysed" or "failed" entry with its reason; one bad instance never blocks the others; a new study goes
before the backlog; requests are answered from the last list while a slow PACS is searched; a restart resumes from
the ledger."""

from __future__ import annotations

import threading
import time

import pydicom
import requests

from ptxseg.evaluation.triage import TriageQualification
from ptxseg.inference.predictor import Predictor
from ptxseg.serving.dicomweb.client import PacsAuth, PacsClient
from ptxseg.serving.dicomweb.eligibility import ScreeningRules
from ptxseg.serving.dicomweb.prescreen import ModelForScreening, Prescreener
from ptxseg.serving.dicomweb.studies import PacsStudies
from tests.support.pacs_images import write_cr_phantom
from tests.support.pacs_segs import automatic_segs
from tests.support.paging_proxy import PagingProxy

QUALIFIED = TriageQualification(True, "qualified for triage: sensitivity 0.900, specificity 0.900", 0.9, 0.9, 20, 20)
# Not the model's: the reason each gets, as the worklist says it.
INELIGIBLE = {
    "knee": ({"BodyPartExamined": "KNEE"}, "not analysed: body part KNEE is not the chest"),
    "lateral": ({"ViewPosition": "LL"}, "not analysed: view LL is not frontal (PA/AP)"),
    "child": ({"PatientAge": "007Y"}, "not analysed: patient under 18 years"),
    "derived": ({"ImageType": ["DERIVED", "SECONDARY"]}, "not analysed: image type DERIVED"),
    "bone": ({"ImageType": ["ORIGINAL", "PRIMARY", "BONE"]}, "not analysed: image type BONE"),
}


class RecordingPredictor:
    """The real predictor, optionally slowed, counting its calls."""

    def __init__(self, predictor, delay_s: float = 0.0):
        self.predictor, self.delay_s, self.calls = predictor, delay_s, 0

    def predict(self, image):
        self.calls += 1
        time.sleep(self.delay_s)
        return self.predictor.predict(image)


def _upload(orthanc, path) -> str:
    orthanc.upload(path)
    return pydicom.dcmread(path).SOPInstanceUID


def _chest(orthanc, folder, seed, date="20260105", **tags) -> str:
    path = write_cr_phantom(folder / f"cr-{seed}.dcm", seed=seed, AcquisitionDate=date, StudyDate=date, **tags)
    return _upload(orthanc, path)


def _multi_frame(orthanc, folder) -> str:
    path = write_cr_phantom(folder / "multi.dcm", seed=40, AcquisitionDate="20260105")
    dataset = pydicom.dcmread(path)
    dataset.NumberOfFrames = 2
    dataset.PixelData = dataset.PixelData * 2
    dataset.save_as(path, write_like_original=False)
    return _upload(orthanc, path)


def _poisoned(orthanc, folder) -> str:
    """The newest instance of the archive (sorts first), whose pixel data is cut short: it cannot be read."""
    path = write_cr_phantom(folder / "poisoned.dcm", seed=41, AcquisitionDate="20261231", StudyDate="20261231")
    dataset = pydicom.dcmread(path)
    dataset.PixelData = dataset.PixelData[: len(dataset.PixelData) // 3]
    dataset.save_as(path, write_like_original=False)
    return _upload(orthanc, path)


def _prescreener(url, orthanc, state, model, **rules) -> Prescreener:
    client = PacsClient(url, PacsAuth(*orthanc.auth), timeout_s=10)
    rules = ScreeningRules(**{"retry_s": 0.01, **rules})
    return Prescreener(PacsStudies(client, state, refresh_s=0), lambda: model, rules=rules)


def _model(checkpoint, version="v1", delay_s=0.0):
    predictor = Predictor.from_checkpoint(checkpoint, "cpu", "torch")
    return ModelForScreening(RecordingPredictor(predictor, delay_s), version, QUALIFIED)


def test_an_archive_of_everything_screens_exactly_the_chest_radiographs_and_nothing_blocks(
    orthanc, tmp_path, checkpoint
):
    chests = [_chest(orthanc, tmp_path, seed) for seed in (1, 2)]
    ineligible = {
        name: _chest(orthanc, tmp_path, 10 + number, **tags)
        for number, (name, (tags, _)) in enumerate(INELIGIBLE.items())
    }
    ineligible["multi-frame"] = _multi_frame(orthanc, tmp_path)
    poisoned = _poisoned(orthanc, tmp_path)
    gone_path = write_cr_phantom(tmp_path / "gone.dcm", seed=42, AcquisitionDate="20261230", StudyDate="20261230")
    gone = _upload(orthanc, gone_path)
    model = _model(checkpoint)
    prescreener = _prescreener(orthanc.dicomweb, orthanc, tmp_path / "state", model, max_attempts=2)
    prescreener.studies.refresh(force=True)  # listed by the search, then deleted before it is retrieved
    orthanc_id = orthanc.upload(gone_path)["ID"]
    requests.delete(f"{orthanc.url}/instances/{orthanc_id}", auth=orthanc.auth, timeout=30).raise_for_status()

    assert prescreener.run_once() == 2  # the two chests, although two failing instances sort first
    time.sleep(0.05)  # past the back-off: the failures are tried once more, then given up
    assert prescreener.run_once() == 0

    states = {item["image"]: item["status"] for item in prescreener.worklist()}
    assert all(states[uid] == "screened" for uid in chests)
    for name, (_, reason) in INELIGIBLE.items():
        assert states[ineligible[name]].startswith(reason), name
    assert states[ineligible["multi-frame"]] == "not analysed: multi-frame image (2 frames)"
    assert states[poisoned].startswith("failed: ") and states[gone].startswith("failed: ")
    assert "404" in states[gone] or "not" in states[gone]
    assert sorted(automatic_segs(orthanc, tmp_path)) == sorted(chests)  # a SEG for the chests only
    assert model.predictor.calls == 2  # the failures ended before the model: reading, retrieving
    assert prescreener.status()["outcomes"] == {"screened": 2, "not analysed": 6, "failed": 2}

    restarted = _prescreener(orthanc.dicomweb, orthanc, tmp_path / "state", model)  # the ledger is on disk
    assert restarted.run_once() == 0 and model.predictor.calls == 2


def test_a_new_study_goes_before_the_backlog(orthanc, tmp_path, checkpoint):
    backlog = [_chest(orthanc, tmp_path, seed, date=f"2026010{seed}") for seed in range(1, 6)]
    order: list[str] = []
    model = _model(checkpoint, delay_s=0.5)
    prescreener = _prescreener(orthanc.dicomweb, orthanc, tmp_path / "state", model, refresh_s=0.2)
    prescreener.on_result = lambda result: order.append(result.sop_uid)
    worker = threading.Thread(target=prescreener.run_once, daemon=True)
    worker.start()
    deadline = time.monotonic() + 60
    while not order and time.monotonic() < deadline:
        time.sleep(0.05)
    new = _chest(orthanc, tmp_path, 9, date="20261207")
    worker.join(120)
    assert sorted(order) == sorted([*backlog, new])
    assert order[0] == backlog[-1]  # newest of the backlog first
    assert order.index(new) <= 2, order  # taken at the next search, before the older backlog


def test_requests_are_answered_from_the_last_list_while_a_slow_pacs_is_searched(orthanc, tmp_path):
    uid = _chest(orthanc, tmp_path, 1)
    with PagingProxy(orthanc.url, page_size=100, search_delay_s=2.0) as proxy:
        studies = PacsStudies(PacsClient(proxy.dicomweb, PacsAuth(*orthanc.auth), timeout_s=30), tmp_path / "s")
        studies.refresh(force=True)
        scan = threading.Thread(target=studies.refresh, kwargs={"force": True}, daemon=True)
        scan.start()
        time.sleep(0.3)  # the scan is waiting on the PACS now
        started = time.monotonic()
        studies.refresh_s = 0  # a request that would search again finds the scan running
        assert studies.list_images() == [uid] and studies.get_image_info(uid)["sop_uid"] == uid
        assert time.monotonic() - started < 1.0
        scan.join(30)


def test_the_incremental_search_asks_for_the_new_only(orthanc, tmp_path):
    for seed in range(1, 4):
        _chest(orthanc, tmp_path, seed)
    with PagingProxy(orthanc.url, page_size=100) as proxy:
        studies = PacsStudies(PacsClient(proxy.dicomweb, PacsAuth(*orthanc.auth)), tmp_path / "s", refresh_s=0)
        studies.refresh(force=True)
        old = _chest(orthanc, tmp_path, 7, date="20190101")  # a prior, imported today with its old date
        before = dict(proxy.requests)
        studies.refresh(force=True)
        assert old in studies.list_images()  # the change feed names its study
        searches = proxy.requests["search"] - before.get("search", 0)
        # In its study only: CR (a page and the empty page after it), DX, SEG; the same for any archive size.
        assert searches <= 4, proxy.requests


def test_a_refused_outbox_seg_is_set_aside_and_does_not_hold_up_the_others(orthanc, tmp_path):
    uid = _chest(orthanc, tmp_path, 1)
    studies = PacsStudies(PacsClient(orthanc.dicomweb, PacsAuth(*orthanc.auth)), tmp_path / "s", refresh_s=0)
    studies.refresh(force=True)
    (studies.outbox / "a-broken.dcm").write_bytes(b"not a DICOM file at all" * 10)  # sorts before the good one
    good = write_cr_phantom(tmp_path / "seg-stand-in.dcm", seed=5)  # any instance the PACS accepts
    (studies.outbox / "b-good.dcm").write_bytes(good.read_bytes())
    studies.refresh(force=True)
    assert uid in studies.list_images() and not list(studies.outbox.glob("*.dcm"))
    assert (studies.outbox / "rejected" / "a-broken.dcm").is_file()
    assert (studies.outbox / "rejected" / "a-broken.reason.txt").read_text().startswith("unreadable: ")
    assert pydicom.dcmread(good).SOPInstanceUID in {item["SOPInstanceUID"] for item in orthanc.instances()}
