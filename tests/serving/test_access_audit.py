"""The access audit: a JSON line per request with the client, the status and the studies, hashed with a 0600 key."""

from __future__ import annotations

import json
import warnings

from fastapi import FastAPI

with warnings.catch_warnings():  # Starlette's TestClient on httpx says it is deprecated; it still sends requests
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from ptxseg.serving.access_audit import AUDIT_LOG_NAME, KEY_NAME, audit_key, study_hash
from ptxseg.serving.http import harden
from ptxseg.serving.settings import ServingSettings
from ptxseg.serving.token import token_id

TOKEN = "a-token-of-twenty-four-chars"
UID = "1.2.826.0.1.3680043.8.498.1"


def _client(folder, token=TOKEN) -> TestClient:
    app = FastAPI()
    app.get("/datastore/image")(lambda image: {"image": image})
    app.get("/proxy/dicom/studies/{uid}")(lambda uid: {"uid": uid})
    app.put("/datastore/label")(lambda image, tag="final": {"stored": image})
    return TestClient(harden(app, ServingSettings(), token, audit_folder=folder), base_url="http://127.0.0.1:8000")


def _lines(folder) -> list[dict]:
    return [json.loads(line) for line in (folder / AUDIT_LOG_NAME).read_text().splitlines()]


def test_each_request_is_a_line_naming_client_status_and_hashed_studies(tmp_path):
    client = _client(tmp_path)
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    client.get("/datastore/image", params={"image": UID}, headers=bearer)
    client.put("/datastore/label", params={"image": "Doe-Jane-chest", "tag": "final"}, headers=bearer)
    client.get(f"/proxy/dicom/studies/{UID}", headers=bearer)
    client.get("/datastore/image", params={"image": UID})
    key = audit_key(tmp_path)
    read, write, proxy, refused = _lines(tmp_path)
    assert read["method"] == "GET" and read["status"] == 200 and read["client"] == token_id(TOKEN)
    assert read["studies"] == [study_hash(key, UID)] and read["address"]
    assert write["method"] == "PUT" and write["studies"] == [study_hash(key, "Doe-Jane-chest")]
    assert proxy["path"] == f"/proxy/dicom/studies/{study_hash(key, UID)}"
    assert refused["status"] == 401 and refused["client"] == "unauthenticated"
    text = (tmp_path / AUDIT_LOG_NAME).read_text()
    assert UID not in text and "Doe" not in text and TOKEN not in text


def test_refusals_of_other_origins_are_audited_too(tmp_path):
    _client(tmp_path).get("/datastore/image", params={"image": UID}, headers={"Origin": "http://evil.example"})
    (line,) = _lines(tmp_path)
    assert line["status"] == 403


def test_the_log_and_its_key_are_readable_by_their_owner_only_and_the_key_survives_restarts(tmp_path):
    _client(tmp_path, token=None).get("/datastore/image", params={"image": UID})
    assert (tmp_path / AUDIT_LOG_NAME).stat().st_mode & 0o777 == 0o600
    assert (tmp_path / KEY_NAME).stat().st_mode & 0o777 == 0o600
    key = audit_key(tmp_path)
    _client(tmp_path, token=None).get("/datastore/image", params={"image": UID})
    first, second = _lines(tmp_path)
    assert first["studies"] == second["studies"] == [study_hash(key, UID)] and first["client"] == "no-token"
