"""Answers carry no server path, and a task that does not exist is a 404: ``ptxseg.serving.http_responses`` on a bare
FastAPI app that answers as MONAI Label 0.8.5 does (bodies recorded from a live server)."""

from __future__ import annotations

import json

import pytest
from fastapi import FastAPI
from fastapi.responses import Response
from fastapi.testclient import TestClient

from ptxseg.serving.http_responses import filter_responses

STUDIES = "/data/site/studies"
IMAGE = f"{STUDIES}/2.25.1.dcm"
LABEL = f"{STUDIES}/labels/final/2.25.1.nrrd"
BOUNDARY = "18b8e7f9f4a34dd5a25a9875416bc924"
LABEL_BYTES = b"NRRD0004\n" + bytes(range(256))


def _multipart(params: dict) -> bytes:
    return (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="params"\r\nContent-Type: application/json\r\n\r\n'
            f'{json.dumps(params)}\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="x.nrrd"'
            f"\r\nContent-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + LABEL_BYTES
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


def _stock_like_app() -> FastAPI:
    app = FastAPI()
    info = {"ts": 1, "name": "2.25.1.dcm", "ptx_checked": [1, 2], "path": IMAGE}
    app.post("/activelearning/{strategy}")(lambda strategy: {"id": "2.25.1", "weight": 3, **info})
    app.get("/datastore/image/info")(lambda image: info)
    app.get("/datastore/label/info")(lambda label, tag: {"name": "2.25.1.nrrd", "path": LABEL})
    app.get("/datastore/")(
        lambda output="stats": {"objects": {"2.25.1": {"image": {"info": info}, "labels": {"final": {"path": LABEL}}}}}
    )
    app.get("/datastore/label")(lambda label, tag: Response(LABEL_BYTES, media_type="application/octet-stream"))
    app.post("/infer/{model}")(
        lambda model, output="json": (
            Response(_multipart({"file": IMAGE, "dice": 0.5}), media_type=_multipart_type())
            if output == "all"
            else {"file": IMAGE, "warnings": [f"cannot read {IMAGE}: truncated"], "flag": True}
        )
    )
    app.post("/train/{model}")(lambda model: {"id": "task", "status": "SUBMITTED"})
    app.post("/scoring/{method}")(lambda method: {"id": "task"})
    return app


def _multipart_type() -> str:
    return f"multipart/form-data; boundary={BOUNDARY}"


@pytest.fixture
def client() -> TestClient:
    app = filter_responses(
        _stock_like_app(),
        hidden_roots=[STUDIES],
        known_tasks={"/train/": lambda: ["pneumothorax"], "/scoring/": lambda: ["pneumothorax_scores"]},
    )
    return TestClient(app)


REQUESTS = {
    "activelearning": ("post", "/activelearning/random"),
    "image info": ("get", "/datastore/image/info?image=2.25.1"),
    "label info": ("get", "/datastore/label/info?label=2.25.1&tag=final"),
    "datastore listing": ("get", "/datastore/?output=all"),
    "infer json": ("post", "/infer/pneumothorax?image=2.25.1&output=json"),
    "infer all": ("post", "/infer/pneumothorax?image=2.25.1&output=all"),
}


@pytest.mark.parametrize("name", REQUESTS)
def test_no_answer_carries_a_server_path(client, name):
    method, path = REQUESTS[name]
    response = getattr(client, method)(path)
    assert response.status_code == 200
    assert STUDIES.encode() not in response.content
    assert int(response.headers["content-length"]) == len(response.content)


def test_what_is_not_a_path_stays(client):
    assert client.post("/activelearning/first").json() == {
        "id": "2.25.1",
        "weight": 3,
        "ts": 1,
        "name": "2.25.1.dcm",
        "ptx_checked": [1, 2],
    }
    assert client.post("/infer/pneumothorax?output=json").json()["warnings"] == ["cannot read 2.25.1.dcm: truncated"]


def test_a_multipart_answer_keeps_its_file_byte_for_byte(client):
    content = client.post("/infer/pneumothorax?output=all").content
    assert LABEL_BYTES in content and b'"dice": 0.5' in content and IMAGE.encode() not in content
    assert client.get("/datastore/label?label=2.25.1&tag=final").content == LABEL_BYTES


def test_paths_stay_when_a_setting_asks_for_them():
    client = TestClient(filter_responses(_stock_like_app(), hidden_roots=[STUDIES], expose_paths=True))
    assert client.post("/activelearning/random").json()["path"] == IMAGE


@pytest.mark.parametrize(("prefix", "known"), [("/train/", "pneumothorax"), ("/scoring/", "pneumothorax_scores")])
def test_an_unknown_task_is_a_404_listing_the_known_ones(client, prefix, known):
    response = client.post(f"{prefix}lung_nodules")
    assert response.status_code == 404
    assert response.json()["detail"] == f"no task 'lung_nodules' at {prefix}; known: ['{known}']"
    assert client.post(f"{prefix}{known}").status_code == 200
