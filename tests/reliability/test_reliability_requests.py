"""Malformed or misusing requests: a clear 4xx with a JSON reason, nothing started or written, the server serving."""

from __future__ import annotations

import pytest

from tests.support.server_tools import files_under, served_digest

pytestmark = pytest.mark.server

STUDY = "demo-chest-002"


def _infer(server, params: str | None = None, **query):
    data = {"params": params} if params is not None else None
    return server.post("/infer/pneumothorax", params={"image": STUDY, "output": "json", **query}, data=data)


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ("{not json", "malformed JSON"),
        ('{"threshold": 0.5', "malformed JSON"),
        ("[1, 2]", "JSON object"),
        ('"just a string"', "JSON object"),
        ("null", "JSON object"),
    ],
)
def test_malformed_infer_params_are_a_400(attack_server, params, words):
    response = _infer(attack_server, params)
    assert response.status_code == 400 and words in response.json()["detail"], response.text
    assert _infer(attack_server).status_code == 200


@pytest.mark.parametrize(
    ("query", "files", "status"),
    [
        ({"image": ""}, None, 400),  # no study named
        ({"session_id": "../../etc"}, None, 400),  # sessions are off
        ({"image": ""}, {"file": ("x.png", b"\x89PNG")}, 400),  # inference on an upload instead of a stored study
        ({"image": STUDY}, {"label": ("x.nrrd", b"NRRD0004")}, 400),  # the model takes no input label
        ({"image": STUDY, "output": "dicom_seg"}, None, 400),  # needs a DICOMweb datastore
        ({"image": STUDY, "output": "exe"}, None, 422),
    ],
)
def test_infer_requests_outside_the_one_supported_shape_are_refused(attack_server, query, files, status):
    response = attack_server.post("/infer/pneumothorax", params={"output": "json", **query}, files=files)
    assert response.status_code == status and response.json()["detail"], response.text


def test_an_unknown_model_is_a_400(attack_server):
    response = attack_server.post("/infer/no-such-model", params={"image": STUDY})
    assert response.status_code == 400 and "no-such-model" in response.json()["detail"], response.text


@pytest.mark.parametrize("body", ["{not json", "[1, 2]", '"epochs"'])
def test_malformed_training_params_are_refused_and_nothing_starts(attack_server, body):
    response = attack_server.post(
        "/train/pneumothorax", data=body, headers={"Content-Type": "application/json", **attack_server.auth_headers}
    )
    assert response.status_code in (400, 422) and response.json()["detail"], response.text
    assert attack_server.get("/train/").status_code == 404  # no training task was ever submitted


@pytest.mark.parametrize("task", ["train/pneumothorax", "scoring/pneumothorax_scores"])
def test_run_sync_would_freeze_the_server_and_is_refused(attack_server, task):
    response = attack_server.post(f"/{task}", params={"run_sync": "true"}, json={})
    assert response.status_code == 400 and "run_sync" in response.json()["detail"], response.text
    assert attack_server.get(f"/{task.split('/')[0]}/").status_code == 404  # nothing was started


@pytest.mark.parametrize("path", ["/datastore/image", "/datastore/"])
def test_an_image_upload_without_an_id_is_refused(attack_server, path):
    before = files_under(attack_server.studies)
    response = attack_server.put(path, files={"file": ("1.2.840.99.7.png", b"\x89PNG\r\n")})
    assert response.status_code == 400 and "?image=ID" in response.json()["detail"], response.text
    assert files_under(attack_server.studies) == before


@pytest.mark.parametrize("method", ["put", "delete"])
def test_the_served_model_cannot_be_replaced_or_deleted_over_http(attack_server, method):
    digest = served_digest(attack_server.model_dir)
    kwargs = {"files": {"file": ("model.pt", b"not a model")}} if method == "put" else {}
    response = getattr(attack_server, method)("/model/pneumothorax", **kwargs)
    assert response.status_code == 405 and "fine-tuning" in response.json()["detail"], response.text
    assert served_digest(attack_server.model_dir) == digest


def test_the_server_logged_no_traceback_for_any_attack(attack_server):
    """Every refusal above was a handled 4xx: an unhandled error would have logged a traceback (and a 500)."""
    assert "Traceback" not in attack_server.log()
    assert attack_server.get("/info/").status_code == 200
