"""The server closed to other web pages and other host names, with a token by default, on a real ``ptxseg serve``
over real HTTP: hostile Origin (simple request and preflight), hostile Host (DNS rebinding), the generated token
(file 0600, printed URL, header, ?token= and its cookie, never logged), MONAI Label's own client logging in with it,
the allow-list letting exactly the allowed origin in, and the access audit without ids in clear."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ptxseg.phantom.demo import DEMO_UID_ROOT
from ptxseg.serving.access_audit import AUDIT_LOG_NAME, audit_key, study_hash
from ptxseg.serving.bearer_token import cookie_name
from ptxseg.serving.token import TOKEN_FILE_NAME
from tests.support.server_harness import make_test_studies, running_server

pytestmark = pytest.mark.server

VIEWER = "http://viewer.example:3000"
EVIL = "http://evil.example"
PHANTOM = f"{DEMO_UID_ROOT}.3"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Default ``ptxseg serve`` (the token it generates) with one allowed origin."""
    root = tmp_path_factory.mktemp("web-access")
    studies = make_test_studies(root / "studies", n_phantoms=4)
    with running_server(studies, root / "model", {"allow_origins": VIEWER}, token="generated") as running:
        yield running


def _port(server) -> int:
    return int(server.url.rsplit(":", 1)[1])


def test_the_generated_token_is_a_0600_file_printed_with_the_url_and_never_logged(server):
    token_file = server.model_dir / TOKEN_FILE_NAME
    assert token_file.stat().st_mode & 0o777 == 0o600
    assert f"{server.url}/?token={server.token}" in server.log()  # what the user copies, as Jupyter prints it
    server.get(f"/info/?token={server.token}", headers={})
    assert server.log().count(server.token) == 2  # the URL lines of ptxseg serve itself; nothing the server logs


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-token-of-some-length"}])
def test_without_the_token_nothing_is_readable(server, headers):
    for path in ("/info/", "/datastore/", f"/datastore/image?image={PHANTOM}", "/docs", "/openapi.json"):
        assert server.get(path, headers=headers).status_code == 401, path


def test_the_token_opens_the_server_by_header_url_or_the_cookie_the_url_sets(server):
    assert server.get("/info/").status_code == 200
    by_url = server.get("/datastore/", params={"token": server.token, "output": "all"}, headers={})
    assert by_url.status_code == 200 and PHANTOM in by_url.json()["objects"]
    cookie = by_url.cookies.get(cookie_name(_port(server)))
    assert cookie == server.token and "HttpOnly" in by_url.headers["set-cookie"]
    assert "SameSite=Strict" in by_url.headers["set-cookie"]
    assert server.get("/info/", headers={}, cookies={cookie_name(_port(server)): server.token}).status_code == 200
    assert server.get("/info/", headers={}, cookies={cookie_name(1): server.token}).status_code == 401


def test_monai_labels_own_client_logs_in_with_the_token_as_password(server):
    from monailabel.client import MONAILabelClient

    client = MONAILabelClient(server.url)
    assert client.auth_enabled()
    client.update_auth(client.auth_token("annotator", server.token))
    assert client.auth_valid_token()
    assert "pneumothorax" in client.info()["models"]
    refused = server.post("/auth/token", data={"username": "x", "password": "guess-guess-guess"}, headers={})
    assert refused.status_code == 401


def test_a_page_of_another_origin_gets_nothing(server):
    simple = server.get("/datastore/", params={"output": "all"}, headers={**server.auth_headers, "Origin": EVIL})
    assert simple.status_code == 403 and "access-control-allow-origin" not in simple.headers
    assert "--allow-origin" in simple.json()["detail"] and PHANTOM not in simple.text
    for method in ("PUT", "DELETE", "POST"):
        preflight = server.request(
            "OPTIONS",
            "/datastore/label",
            headers={"Origin": EVIL, "Access-Control-Request-Method": method},
        )
        assert preflight.status_code == 403 and "access-control-allow-origin" not in preflight.headers
    # A form post needs no preflight: refused all the same, and nothing started.
    posted = server.post("/train/pneumothorax", data="{}", headers={**server.auth_headers, "Origin": "null"})
    assert posted.status_code == 403
    assert server.get("/train/").status_code == 404


def test_the_allowed_origin_and_the_servers_own_pages_get_in(server):
    preflight = server.request(
        "OPTIONS",
        "/datastore/label",
        headers={
            "Origin": VIEWER,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == VIEWER
    answer = server.get("/info/", headers={**server.auth_headers, "Origin": VIEWER})
    assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == VIEWER
    own = server.get("/info/", headers={**server.auth_headers, "Origin": server.url})
    assert own.status_code == 200 and "access-control-allow-origin" not in own.headers


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "127.0.0.1.evil.example", "10.0.0.7"])
def test_a_request_for_another_host_name_is_refused(server, host):
    answer = server.get("/info/", headers={**server.auth_headers, "Host": host})
    assert answer.status_code == 403 and "--allow-host" in answer.json()["detail"]


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]"])
def test_loopback_names_are_accepted(server, host):
    assert server.get("/info/", headers={**server.auth_headers, "Host": f"{host}:{_port(server)}"}).status_code == 200


def test_the_access_audit_names_client_and_study_by_hash_only(server):
    server.get("/datastore/image/info", params={"image": PHANTOM})
    server.get("/info/", headers={})
    lines = [json.loads(line) for line in (server.model_dir / AUDIT_LOG_NAME).read_text().splitlines()]
    assert (server.model_dir / AUDIT_LOG_NAME).stat().st_mode & 0o777 == 0o600
    hashed = study_hash(audit_key(server.model_dir), PHANTOM)
    read = [line for line in lines if line["path"] == "/datastore/image/info" and line["studies"] == [hashed]]
    assert read and read[-1]["status"] == 200 and read[-1]["client"].startswith("token:")
    assert any(line["client"] == "unauthenticated" and line["status"] == 401 for line in lines)
    text = (server.model_dir / AUDIT_LOG_NAME).read_text()
    assert PHANTOM not in text and server.token not in text


def test_a_bind_beyond_this_machine_without_a_token_is_refused_at_start(tmp_path):
    command = [sys.executable, "-m", "ptxseg", "serve", "--studies", str(tmp_path), "--host", "0.0.0.0", "--no-token"]
    own_token = ("PTXSEG_TOKEN", "PTXSEG_TOKEN_FILE")  # a token of the user's is another refusal
    environment = {name: value for name, value in os.environ.items() if name not in own_token}
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path, env=environment)
    assert result.returncode != 0
    assert "without a token: drop --no-token" in result.stderr
