"""The bearer token: header, ?token= with its cookie, MONAI Label's login endpoints, and no token in the logs."""

from __future__ import annotations

import logging
import warnings

import pytest
from fastapi import FastAPI

with warnings.catch_warnings():  # Starlette's TestClient on httpx says it is deprecated; it still sends requests
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from ptxseg.serving.bearer_token import BearerToken, TokenRedaction, add_login_routes, cookie_name

TOKEN = "a-token-of-twenty-four-chars"
SERVER = "http://127.0.0.1:8000"


@pytest.fixture
def client() -> TestClient:
    app = FastAPI()
    add_login_routes(app, TOKEN)
    app.get("/info/")(lambda: {"ok": True})
    app.add_middleware(BearerToken, token=TOKEN)
    return TestClient(app, base_url=SERVER)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": TOKEN}, {"Authorization": f"Bearer {TOKEN[:-1]}"}, {"Authorization": f"bearer {TOKEN}x"}],
)
def test_a_missing_or_wrong_token_is_a_401(client, headers):
    response = client.get("/info/", headers=headers)
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"


def test_the_header_opens(client):
    assert client.get("/info/", headers={"Authorization": f"Bearer {TOKEN}"}).json() == {"ok": True}


def test_the_token_in_the_url_opens_and_sets_a_strict_cookie_for_this_port(client):
    response = client.get("/info/", params={"token": TOKEN})
    assert response.status_code == 200
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{cookie_name(8000)}={TOKEN};") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    client.cookies.clear()
    assert client.get("/info/", cookies={cookie_name(8000): TOKEN}).status_code == 200
    client.cookies.clear()
    assert client.get("/info/", cookies={cookie_name(8001): TOKEN}).status_code == 401
    assert client.get("/info/", params={"token": "wrong"}).status_code == 401


def test_a_malformed_cookie_header_is_no_token(client):
    assert client.get("/info/", headers={"Cookie": '"\\x00;;=;'}).status_code == 401


def test_the_login_endpoints_are_open_and_answer_the_token_for_the_right_password(client):
    assert client.get("/auth/").json()["enabled"] is True
    good = client.post("/auth/token", data={"username": "anyone", "password": TOKEN, "grant_type": "password"})
    assert good.json() == {"access_token": TOKEN, "token_type": "Bearer"}
    assert client.post("/auth/token", data={"username": "anyone", "password": "guess"}).status_code == 401
    assert client.get("/auth/token/valid").status_code == 401
    assert client.get("/auth/token/valid", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_without_a_token_the_login_check_says_so():
    app = FastAPI()
    add_login_routes(app, None)
    client = TestClient(app, base_url=SERVER)
    assert client.get("/auth/").json()["enabled"] is False
    assert client.post("/auth/token", data={"username": "a", "password": "b"}).json()["access_token"] is None


def test_the_access_log_masks_the_token(caplog):
    logger = logging.getLogger("test.uvicorn.access")
    logger.addFilter(TokenRedaction())
    with caplog.at_level(logging.INFO, logger=logger.name):
        logger.info('%s - "%s %s HTTP/1.1" %d', "127.0.0.1", "GET", f"/docs?token={TOKEN}&x=1", 200)
    assert TOKEN not in caplog.text and "token=<redacted>&x=1" in caplog.text
