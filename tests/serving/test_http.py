"""The HTTP hardening on a bare FastAPI app: upload limit, refused requests, bearer token, and which errors are
the client's (400) and which stay the server's (500)."""

from __future__ import annotations

import json
import warnings

import pytest
from fastapi import FastAPI, File, Request, UploadFile

with warnings.catch_warnings():  # Starlette's TestClient on httpx says it is deprecated; it still sends requests
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from ptxseg.serving.http import ClientError, harden
from ptxseg.serving.settings import ServingSettings
from tests.support.storage import file_size_limit

TOKEN = "a-token-of-twenty-four-chars"
SERVER = "http://127.0.0.1:8000"  # a loopback name: the Host check refuses TestClient's default "testserver"


def _app(token: str | None = None) -> FastAPI:
    app = FastAPI()

    @app.post("/client-error")
    def client_error():
        raise ClientError("say which study: ?image=ID")

    @app.post("/server-bug")
    def server_bug():
        raise ValueError("an internal value went wrong")

    @app.post("/json")
    def parse_json(params: str = "{}"):
        return json.loads(params)

    @app.api_route("/body", methods=["POST", "PUT"])
    async def body(request: Request):
        return {"received": len(await request.body())}

    @app.api_route("/{path:path}", methods=["GET", "PUT", "DELETE", "POST", "OPTIONS"])
    def anything(path: str):
        return {"path": path}

    return harden(app, ServingSettings(max_upload_mb=1), token)


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(_app(), raise_server_exceptions=False, base_url=SERVER)


def test_a_client_error_is_a_400_with_its_reason(client):
    response = client.post("/client-error")
    assert response.status_code == 400 and response.json() == {"detail": "say which study: ?image=ID"}


def test_any_other_value_error_stays_a_server_error(client):
    assert client.post("/server-bug").status_code == 500


def test_malformed_json_is_a_400(client):
    response = client.post("/json", params={"params": "{not json"})
    assert response.status_code == 400 and response.json()["detail"].startswith("malformed JSON in the request: ")
    assert client.post("/json", params={"params": '{"a": 1}'}).json() == {"a": 1}


def test_an_upload_over_the_limit_is_refused_from_its_declared_size(client):
    response = client.post("/body", content=b"x" * (2**20 + 1))
    assert response.status_code == 413
    assert response.json()["detail"] == (
        f"upload of {2**20 + 1} bytes exceeds the limit of {2**20} bytes (conf max_upload_mb)"
    )
    assert client.post("/body", content=b"x" * 2**20).json() == {"received": 2**20}


def test_an_upload_without_a_declared_size_is_cut_off_at_the_limit(client):
    def chunks():
        for _ in range(3):
            yield b"x" * 2**19

    response = client.post("/body", content=chunks())
    assert response.status_code == 413 and f"more than {2**20} bytes" in response.json()["detail"]


@pytest.mark.parametrize("value", ["true", "1", "yes", "ON"])
def test_run_sync_is_refused(client, value):
    response = client.post("/train/pneumothorax", params={"run_sync": value})
    assert response.status_code == 400 and "run_sync is refused" in response.json()["detail"]


@pytest.mark.parametrize("value", ["false", "0", "no", "maybe"])
def test_run_sync_off_or_not_a_boolean_passes(client, value):
    assert client.post("/train/pneumothorax", params={"run_sync": value}).status_code == 200


@pytest.mark.parametrize("path", ["/datastore/image", "/datastore/", "/datastore"])
def test_an_image_upload_needs_an_id(client, path):
    response = client.put(path)
    assert response.status_code == 400 and "?image=ID" in response.json()["detail"]
    assert client.put(path, params={"image": "study-1"}).status_code == 200


@pytest.mark.parametrize("method", ["put", "delete"])
def test_the_model_cannot_be_replaced_or_deleted(client, method):
    response = getattr(client, method)("/model/pneumothorax")
    assert response.status_code == 405 and "fine-tuning" in response.json()["detail"]
    assert client.get("/model/pneumothorax").status_code == 200


def test_without_a_token_everything_is_open(client):
    assert client.get("/info/").status_code == 200


def test_with_a_token_every_request_needs_it():
    client = TestClient(_app(TOKEN), base_url=SERVER)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        response = client.get("/info/", headers=headers)
        assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
        assert "bearer token" in response.json()["detail"]
    assert client.get("/info/", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert client.options("/info/").status_code == 200  # CORS preflight carries no credentials


def test_an_upload_that_finds_no_room_while_spooled_is_a_507_and_the_server_goes_on():
    app = FastAPI()

    @app.put("/datastore/image")
    def upload(image: str, file: UploadFile = File(...)):
        return {"size": len(file.file.read())}

    client = TestClient(
        harden(app, ServingSettings(max_upload_mb=8), None), raise_server_exceptions=False, base_url=SERVER
    )
    body = {"file": ("chest.dcm", b"x" * (3 * 2**20))}  # past Starlette's 1 MB in memory: spooled to a file
    with file_size_limit(2**20):
        refused = client.put("/datastore/image", params={"image": "study-1"}, files=body)
    assert refused.status_code == 507 and "no room" in refused.json()["detail"]
    accepted = client.put("/datastore/image", params={"image": "study-1"}, files=body)
    assert accepted.status_code == 200 and accepted.json() == {"size": 3 * 2**20}, accepted.text
