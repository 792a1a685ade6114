"""The bearer token on every endpoint, and MONAI Label's own login flow answered with it.

A request is let in when it carries the token in one of three ways, each compared in constant time:

- ``Authorization: Bearer <token>`` (the ptxseg Slicer module, curl, scripts);
- ``?token=<token>`` in the URL, as Jupyter prints it: a browser opening that URL also gets the token as a cookie
  (HttpOnly, SameSite=Strict, named after the port, since cookies are shared by every port of a host), so the pages
  it then loads (``/docs`` and the API calls it makes) need no token in their URLs;
- that cookie.

MONAI Label's stock client and its Slicer module log in through ``GET /auth/`` (is auth on?) and ``POST
/auth/token`` (user name and password, answered with an access token that later requests send as ``Bearer``):
here the password is the server's token (any user name), and the access token is that same token.

The token never reaches a log: uvicorn's access log writes each request's URL, so ``token=`` values are masked.
"""

from __future__ import annotations

import logging
import re
import secrets
from http.cookies import SimpleCookie

from fastapi import FastAPI, Form, HTTPException
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers, QueryParams

from ptxseg.serving.token import token_id

__all__ = ["BearerToken", "TokenRedaction", "add_login_routes", "cookie_name"]

# MONAI Label's login endpoints (stock client: auth_enabled, auth_token); reachable without the token.
OPEN_PATHS = frozenset({"/auth", "/auth/", "/auth/token"})
_TOKEN_IN_URL = re.compile(r"(token=)[^&\s\"]+")


def cookie_name(port: int | None) -> str:
    """The token cookie's name for a server on ``port``.

    Example:
        >>> cookie_name(8000)
        'ptxseg-token-8000'
    """
    return f"ptxseg-token-{port or 0}"


def _same(given: str | None, token: str) -> bool:
    return given is not None and secrets.compare_digest(given.encode(), token.encode())


class BearerToken:
    """ASGI middleware: every request but CORS preflights and the login endpoints must carry the token."""

    def __init__(self, application, token: str):
        self.application = application
        self.token = token

    def presented(self, scope) -> tuple[bool, bool]:
        """Whether the request carries the right token, and whether it came in the URL (then set the cookie)."""
        headers = Headers(scope=scope)
        if _same(headers.get("authorization"), f"Bearer {self.token}"):
            return True, False
        if _same(QueryParams(scope.get("query_string", b"")).get("token"), self.token):
            return True, True
        cookies = SimpleCookie()
        try:
            cookies.load(headers.get("cookie", ""))
        except Exception:  # a malformed Cookie header is no token
            return False, False
        morsel = cookies.get(cookie_name((scope.get("server") or (None, None))[1]))
        return _same(morsel.value if morsel else None, self.token), False

    def client_of(self, scope) -> str:
        """The access audit's name for the request's client: the token's short hash, or ``unauthenticated``."""
        return token_id(self.token) if self.presented(scope)[0] else "unauthenticated"

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] == "OPTIONS" or scope["path"] in OPEN_PATHS:
            return await self.application(scope, receive, send)
        allowed, in_url = self.presented(scope)
        if not allowed:
            detail = "missing or wrong bearer token: send 'Authorization: Bearer <token>' (or open the URL ?token=...)"
            response = JSONResponse({"detail": detail}, status_code=401, headers={"WWW-Authenticate": "Bearer"})
            return await response(scope, receive, send)
        if not in_url:
            return await self.application(scope, receive, send)
        cookie = f"{cookie_name(scope['server'][1])}={self.token}; HttpOnly; SameSite=Strict; Path=/"

        async def send_with_cookie(message):
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"set-cookie", cookie.encode())]
            await send(message)

        await self.application(scope, receive, send_with_cookie)


def add_login_routes(app: FastAPI, token: str | None) -> None:
    """``GET /auth/`` and ``POST /auth/token`` as MONAI Label's stock client expects them (see the module docstring).

    Example:
        >>> from fastapi.testclient import TestClient
        >>> app = FastAPI()
        >>> add_login_routes(app, "correct-horse-battery-staple")
        >>> client = TestClient(app)
        >>> client.get("/auth/").json()["enabled"]
        True
        >>> client.post("/auth/token", data={"username": "me", "password": "correct-horse-battery-staple"}).json()
        {'access_token': 'correct-horse-battery-staple', 'token_type': 'Bearer'}
    """

    def auth_enabled() -> dict:
        return {"enabled": token is not None, "client_id": "ptxseg", "realm": None}

    def access_token(username: str = Form(""), password: str = Form("")) -> dict:
        if token is None:
            return {"access_token": None, "token_type": None}
        if not _same(password, token):
            raise HTTPException(401, "wrong password: the password is the server's token (any user name)")
        return {"access_token": token, "token_type": "Bearer"}

    app.get("/auth/", summary="Whether a token is required (MONAI Label's login check)")(auth_enabled)
    app.post("/auth/token", summary="Log in with the server's token as password (MONAI Label's client)")(access_token)
    app.get("/auth/token/valid", summary="Whether the token sent is valid")(lambda: {"valid": True})


class TokenRedaction(logging.Filter):
    """Masks ``token=`` values in log records (uvicorn's access log writes each request's URL).

    Example:
        >>> record = logging.LogRecord("uvicorn.access", 20, "", 0, "%s %s", ("GET", "/info/?token=abc&x=1"), None)
        >>> TokenRedaction().filter(record), record.args
        (True, ('GET', '/info/?token=<redacted>&x=1'))
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_TOKEN_IN_URL.sub(r"\1<redacted>", a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = _TOKEN_IN_URL.sub(r"\1<redacted>", record.msg)
        return True
