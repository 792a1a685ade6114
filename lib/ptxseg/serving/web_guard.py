"""The server closed to other web pages and other host names (``ptxseg.serving.web_access`` is the policy).

``WebGuard`` refuses, with a 403 that says how to allow it, a request whose ``Host`` is not a name of this server
(DNS rebinding) or whose ``Origin`` is another web page's (CORS preflights included). Answers to the origins that are
allowed get CORS headers from Starlette's ``CORSMiddleware``, configured by ``allow_cross_origin``, which replaces
any CORS set-up the app came with (MONAI Label's allows every origin, with credentials).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware

from ptxseg.serving.web_access import WebAccess

__all__ = ["WebGuard", "allow_cross_origin"]

# What a page of an allowed origin may do: the API's methods, with the token header and JSON or form bodies.
ALLOWED_METHODS = ("GET", "POST", "PUT", "DELETE")
ALLOWED_HEADERS = ("Authorization", "Content-Type")


class WebGuard:
    """ASGI middleware applying a :class:`WebAccess` policy to every HTTP request."""

    def __init__(self, application, access: WebAccess):
        self.application = application
        self.access = access

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.application(scope, receive, send)
        headers = Headers(scope=scope)
        refusal = self.access.refusal(headers.get("host"), headers.get("origin"))
        if refusal is None:
            return await self.application(scope, receive, send)
        await JSONResponse({"detail": refusal}, status_code=403)(scope, receive, send)


def allow_cross_origin(app: FastAPI, access: WebAccess) -> None:
    """Replace the app's CORS middleware by one for ``access.allowed_origins`` only (none: no CORS headers at all).

    Must run before the app's first request (Starlette builds its middleware stack then).

    Example:
        >>> from fastapi.testclient import TestClient
        >>> app = FastAPI()
        >>> app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_credentials=True)
        >>> allow_cross_origin(app, WebAccess(allowed_origins=("http://viewer.example",)))
        >>> [entry.cls.__name__ for entry in app.user_middleware]
        ['CORSMiddleware']
        >>> answer = TestClient(app).get("/", headers={"Origin": "http://viewer.example"})
        >>> answer.headers["access-control-allow-origin"]
        'http://viewer.example'
    """
    app.user_middleware[:] = [entry for entry in app.user_middleware if entry.cls is not CORSMiddleware]
    if access.allowed_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(access.allowed_origins),
            allow_credentials=True,
            allow_methods=list(ALLOWED_METHODS),
            allow_headers=list(ALLOWED_HEADERS),
        )
