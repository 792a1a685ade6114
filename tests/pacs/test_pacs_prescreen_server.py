"""``ptxseg serve --dicomweb URL --conf prescreen true`` on a real Orthanc: an instance uploaded while the server runs
gets its prediction SEG and score within a bounded time, the worklist endpoint, ``/info`` and the triage strategy
say the (untrained) model is not qualified for triage and flag nothing, and a restart infers nothing again."""

import time

import pydicom
import pytest

from tests.support.orthanc import Orthanc, require_orthanc
from tests.support.pacs_images import write_cr_phantom
from tests.support.pacs_segs import automatic_segs
from tests.support.server_harness import running_server
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.server]
CONF = {"prescreen": "true", "prescreen_interval_s": "1", "dicomweb_refresh_s": "1", "dicomweb_timeout_s": "5"}


def test_prescreening_in_the_server(tmp_path):
    require_orthanc()
    orthanc = Orthanc(tmp_path / "orthanc").start()
    user, password = orthanc.auth
    environment = {"PTXSEG_DICOMWEB_URL": orthanc.dicomweb, "PTXSEG_DICOMWEB_USER": user}
    environment["PTXSEG_DICOMWEB_PASSWORD"] = password
    try:
        first = write_cr_phantom(tmp_path / "first.dcm", seed=1)
        orthanc.upload(first)
        with running_server(tmp_path / "state", tmp_path / "model", conf=CONF, env=environment) as server:
            later = write_cr_phantom(tmp_path / "later.dcm", seed=2)
            orthanc.upload(later)
            uids = {pydicom.dcmread(path).SOPInstanceUID for path in (first, later)}

            def screened():
                items = server.get("/worklist/").json()["items"]
                return items if all(item["screened"] for item in items) and len(items) == 2 else None

            items = wait_for(screened, 90, "both instances were not screened", poll_s=0.5)
            assert {item["image"] for item in items} == uids
            assert all(item["qualified"] is False and item["flag"] is False for item in items)
            assert all(item["reviewed"] is False and 0 <= item["probability"] <= 1 for item in items)
            worklist = server.get("/worklist/").json()
            assert worklist["triage"].startswith("not qualified for triage")
            assert server.get("/info/").json()["ptxseg"]["prescreen"]["qualified_for_triage"] is False
            next_study = server.post("/activelearning/triage", json={}).json()
            assert next_study["id"] in uids and next_study["ptx_flag"] is False
            segs = automatic_segs(orthanc, tmp_path)
            assert sorted(segs) == sorted(uids) and all(len(found) == 1 for found in segs.values())
            assert all(not c.flag and not c.qualified for found in segs.values() for c in found)
        ledger = (tmp_path / "state" / "prescreen.jsonl").read_text()
        with running_server(tmp_path / "state", tmp_path / "model", conf=CONF, env=environment) as server:
            time.sleep(5)  # several pre-screening rounds
            assert all(item["screened"] for item in server.get("/worklist/").json()["items"])
        assert (tmp_path / "state" / "prescreen.jsonl").read_text() == ledger  # nothing inferred again
        assert all(len(found) == 1 for found in automatic_segs(orthanc, tmp_path).values())
    finally:
        orthanc.stop()
