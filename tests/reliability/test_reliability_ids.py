"""Hostile and unknown image ids on every endpoint that takes one: a clear 4xx, never a file-system path."""

from __future__ import annotations

import io

import numpy as np
import pytest

from tests.support.io_fixtures import write_pillow
from tests.support.server_tools import files_under

pytestmark = pytest.mark.server

UNKNOWN_ID = "no-such-study"


def hostile_ids(server) -> list[str]:
    """Ids that would reach files outside the studies folder if an endpoint joined them into a path."""
    outside = server.outside
    return [
        "../../../../etc/passwd",
        f"../{outside.stem}",
        f"../{outside.name}",
        str(outside),
        str(outside.with_suffix("")),
        "..%2F..%2Fetc%2Fpasswd",  # sent encoded once more: arrives as %2F, must not be decoded again
        "labels/final/x",
        "..",
        ".",
        "demo-chest-002\x00.png",
        "a" * 5000,
        "~root",
    ]


def _png_upload() -> bytes:
    buffer = io.BytesIO()
    write_pillow(buffer, np.full((8, 8), 100, np.uint8), format="PNG")
    return buffer.getvalue()


# (name, how to send a request about `image_id`); each must answer 400 or 404 with a JSON reason.
ENDPOINTS = {
    "POST /infer": lambda s, i: s.post("/infer/pneumothorax", params={"image": i, "output": "json"}),
    "GET /datastore/image": lambda s, i: s.get("/datastore/image", params={"image": i}),
    "GET /datastore/image/info": lambda s, i: s.get("/datastore/image/info", params={"image": i}),
    "PUT /datastore/image/info": lambda s, i: s.put("/datastore/image/info", params={"image": i}, data={"info": "{}"}),
    "GET /datastore/label": lambda s, i: s.get("/datastore/label", params={"label": i, "tag": "final"}),
    "GET /datastore/label/info": lambda s, i: s.get("/datastore/label/info", params={"label": i, "tag": "final"}),
    "PUT /datastore/label": lambda s, i: s.put(
        "/datastore/label", params={"image": i, "tag": "final"}, files={"label": ("l.nrrd", b"NRRD0004\n")}
    ),
    "DELETE /datastore/label": lambda s, i: s.delete("/datastore/label", params={"id": i, "tag": "final"}),
    "DELETE /datastore/image": lambda s, i: s.delete("/datastore/image", params={"id": i}),
    "PUT /datastore/image": lambda s, i: s.put(
        "/datastore/image", params={"image": i}, files={"file": ("upload.png", _png_upload())}
    ),
}


def _watched_files(server) -> set:
    """Files in and beside the studies folder (the model folder and the upload spool change on their own)."""
    return files_under(server.studies.parent) - files_under(server.model_dir) - files_under(server.temp_dir)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_hostile_ids_get_a_clear_4xx_and_touch_no_file(attack_server, endpoint):
    before = _watched_files(attack_server)
    for image_id in hostile_ids(attack_server):
        response = ENDPOINTS[endpoint](attack_server, image_id)
        assert response.status_code in (400, 404), (image_id[:60], response.status_code, response.text[:300])
        assert response.json()["detail"], image_id[:60]
    after = _watched_files(attack_server)
    # The datastore's JSON record may be rewritten; no other file may appear or disappear anywhere.
    changed = {path.name for path in before ^ after} - {"datastore_v2.json", ".lock"}
    assert not changed and attack_server.outside.is_file()
    assert attack_server.get("/info/").status_code == 200


@pytest.mark.parametrize("endpoint", [name for name in ENDPOINTS if name != "PUT /datastore/image"])
def test_an_unknown_id_is_a_404_with_a_reason(attack_server, endpoint):
    response = ENDPOINTS[endpoint](attack_server, UNKNOWN_ID)
    assert response.status_code == 404, response.text
    assert response.json()["detail"]


def test_a_traversal_never_serves_the_file_it_points_at(attack_server):
    secret = attack_server.outside.read_bytes()
    for image_id in hostile_ids(attack_server):
        response = attack_server.get("/datastore/image", params={"image": image_id})
        assert response.content != secret and response.status_code != 200


@pytest.mark.parametrize("strategy", ["..%2F..%2Fetc%2Fpasswd", "no-such-strategy", "random%00"])
def test_unknown_or_hostile_strategies_are_refused(attack_server, strategy):
    response = attack_server.post(f"/activelearning/{strategy}", json={})
    assert response.status_code in (400, 404), response.text
    assert response.json()["detail"]


def test_a_known_id_still_works_on_every_read_endpoint(attack_server):
    """The refusals above are specific: the same endpoints answer for a real study."""
    image_id = "demo-chest-002"
    assert attack_server.get("/datastore/image", params={"image": image_id}).status_code == 200
    assert attack_server.get("/datastore/image/info", params={"image": image_id}).json()["name"] == f"{image_id}.png"
    response = attack_server.post("/infer/pneumothorax", params={"image": image_id, "output": "json"})
    assert response.status_code == 200, response.text
