"""``ptxseg serve --dicomweb`` on a real Orthanc, end to end: the CR/DX instances are the studies (a CT is not),
infer returns a label on the image's grid, a submitted label lands in Orthanc as a valid SEG of exactly that mask,
an outage is a 503 with its reason (no hang), and wrong credentials stop the start with a clear error."""

import time

import numpy as np
import pydicom
import pytest

from ptxseg.cli.main import main
from ptxseg.io.labels import write_label
from ptxseg.io.reader import read_cxr
from ptxseg.io.seg import read_seg
from ptxseg.serving.local_server import infer_all
from tests.support.dciodvfy import dciodvfy_errors
from tests.support.orthanc import Orthanc, require_orthanc
from tests.support.pacs_images import write_cr_phantom, write_ct, write_dx_monochrome1_jpeg2000
from tests.support.paging_proxy import PagingProxy
from tests.support.server_harness import label_grid, running_server

pytestmark = [pytest.mark.slow, pytest.mark.server]


def pacs_environment(url: str, orthanc: Orthanc) -> dict:
    user, password = orthanc.auth
    return {"PTXSEG_DICOMWEB_URL": url, "PTXSEG_DICOMWEB_USER": user, "PTXSEG_DICOMWEB_PASSWORD": password}


@pytest.fixture(scope="module")
def pacs_server(tmp_path_factory, siim_sample):
    require_orthanc()
    folder = tmp_path_factory.mktemp("pacs-server")
    orthanc = Orthanc(folder / "orthanc").start()
    uids = {}
    for name, writer in (("cr", write_cr_phantom), ("dx", write_dx_monochrome1_jpeg2000), ("ct", write_ct)):
        path = writer(folder / f"{name}.dcm")
        orthanc.upload(path)
        uids[name] = pydicom.dcmread(path).SOPInstanceUID
    siim = sorted((siim_sample / "dicom").glob("*.dcm"))[:2]
    for path in siim:
        orthanc.upload(path)
    uids["siim"] = [path.stem for path in siim]
    try:
        with PagingProxy(orthanc.url, page_size=2) as proxy:
            environment = pacs_environment(proxy.dicomweb, orthanc)
            conf = {"dicomweb_timeout_s": "5", "dicomweb_refresh_s": "1"}
            with running_server(folder / "state", folder / "model", conf=conf, env=environment) as server:
                yield server, orthanc, proxy, uids
    finally:
        orthanc.stop()


def test_the_cr_and_dx_instances_are_the_studies(pacs_server):
    server, orthanc, proxy, uids = pacs_server
    objects = server.get("/datastore/?output=all").json()["objects"]

    assert sorted(objects) == sorted([uids["cr"], uids["dx"], *uids["siim"]])
    assert proxy.requests["search"] > 3  # 5 CR/DX in pages of 2


def test_infer_returns_the_label_on_the_image_grid(pacs_server, tmp_path):
    server, orthanc, proxy, uids = pacs_server
    response, label_bytes, result = infer_all(server, uids["dx"])
    assert response.status_code == 200, response.text
    (tmp_path / "label.nrrd").write_bytes(label_bytes)
    cached = server.studies / "images" / f"{uids['dx']}.dcm"
    assert label_grid(tmp_path / "label.nrrd") == label_grid(cached)
    assert 0.0 <= result["pneumothorax_probability"] <= 1.0


def test_a_submitted_label_lands_in_orthanc_as_a_valid_seg(pacs_server, tmp_path):
    server, orthanc, proxy, uids = pacs_server
    image_id = uids["siim"][0]
    assert infer_all(server, image_id)[0].status_code == 200  # fetches and caches the image
    image = read_cxr(server.studies / "images" / f"{image_id}.dcm")
    mask = np.zeros(image.shape, bool)
    mask[200:420, 650:800] = True
    write_label(mask, like=image, path=tmp_path / "label.nrrd")

    with open(tmp_path / "label.nrrd", "rb") as stream:
        response = server.put(f"/datastore/label?image={image_id}&tag=final", files={"label": ("label.nrrd", stream)})
    assert response.status_code == 200, response.text

    segs = [item for item in orthanc.instances("SEG") if item.get("ContentLabel") == "PTX_MANUAL"]
    assert len(segs) == 1
    (tmp_path / "seg.dcm").write_bytes(orthanc.file(segs[0]["id"]))
    content = read_seg(tmp_path / "seg.dcm")
    assert content.referenced_sop_instance_uid == image_id
    assert np.array_equal(content.mask, mask)
    assert dciodvfy_errors(tmp_path / "seg.dcm") == []


def test_active_learning_scores_the_pacs_images(pacs_server):
    server, orthanc, proxy, uids = pacs_server
    response = server.post("/activelearning/uncertainty", json={})
    assert response.status_code == 200, response.text
    assert response.json()["id"] in [uids["cr"], uids["dx"], *uids["siim"]]


def test_an_outage_is_a_503_with_the_reason(pacs_server, tmp_path):
    server, orthanc, proxy, uids = pacs_server
    path = write_cr_phantom(tmp_path / "new.dcm", seed=9)
    orthanc.upload(path)
    new = pydicom.dcmread(path).SOPInstanceUID
    time.sleep(1.5)  # dicomweb_refresh_s: the next listing searches the PACS again
    assert new in server.get("/datastore/?output=all").json()["objects"]  # listed, not fetched yet
    orthanc.stop()
    try:
        started = time.monotonic()
        response = server.post(f"/infer/pneumothorax?image={new}", timeout=60)
        assert response.status_code == 503
        assert "unreachable" in response.json()["detail"]
        assert time.monotonic() - started < 30
    finally:
        orthanc.start()
    assert infer_all(server, new)[0].status_code == 200


def test_wrong_credentials_stop_the_start_with_a_clear_error(pacs_server, monkeypatch, capsys):
    server, orthanc, proxy, uids = pacs_server
    monkeypatch.setenv("PTXSEG_DICOMWEB_PASSWORD", "wrong")
    for name in ("PTXSEG_DICOMWEB_URL", "PTXSEG_DICOMWEB_USER"):  # serve sets them: restored after the test
        monkeypatch.setenv(name, "")
    arguments = ["serve", "--dicomweb", orthanc.dicomweb, "--dicomweb-user", "ptxseg", "--port", "9"]

    assert main(arguments) == 2
    assert "refused the credentials (HTTP 401)" in capsys.readouterr().err
