"""Hardening a FastAPI app (MONAI Label's) for a hospital network, in one explicit call: ``harden(app, ...)``.

- uploads larger than ``max_upload_mb`` are refused from their Content-Length, before they are read, and bodies
  sent without one (chunked) are cut off at the limit;
- ``run_sync`` (training or scoring inside the server process, which would freeze it), image uploads without an
  id and model uploads or deletions over HTTP are refused;
- a request the client got wrong (``ClientError``, malformed JSON) is a 400 with its reason; any other error stays
  a server error, so a bug is never passed off as the client's fault;
- an upload that finds no room while it is spooled to disk (full disk, quota) is a 507, as every other write is;
- requests from other web pages and for other host names are refused, CORS only for the origins allowed
  (``ptxseg.serving.web_guard``);
- the bearer token on every endpoint, MONAI Label's login flow answered with it (``ptxseg.serving.bearer_token``);
- one line per request in the access audit (``ptxseg.serving.access_audit``).

Everything here must be set up before the first request: Starlette freezes middleware when the app starts.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.base import BaseHTTPMiddleware

from ptxseg.io.atomic import storage_full
from ptxseg.options import parse_bool
from ptxseg.serving.access_audit import AccessAudit
from ptxseg.serving.bearer_token import BearerToken, TokenRedaction, add_login_routes
from ptxseg.serving.settings import ServingSettings
from ptxseg.serving.token import token_id
from ptxseg.serving.web_access import WebAccess
from ptxseg.serving.web_guard import WebGuard, allow_cross_origin

__all__ = ["ClientError", "IMAGE_UPLOAD_PATHS", "RefusedRequests", "UploadLimit", "harden"]

LOGGER = logging.getLogger("ptxseg.server")
IMAGE_UPLOAD_PATHS = ("/datastore/image", "/datastore")


class ClientError(ValueError):
    """The request is wrong (a value the client sent, not a fault of the server): answered as a 400 with the
    message, which must say how to fix the request."""


async def _client_error(request, error: ClientError) -> JSONResponse:
    return JSONResponse({"detail": str(error)}, status_code=400)


async def _bad_json(request, error: json.JSONDecodeError) -> JSONResponse:
    return JSONResponse({"detail": f"malformed JSON in the request: {error.msg}"}, status_code=400)


def _causes(error: BaseException | None):
    while error is not None:
        yield error
        error = error.__cause__ or error.__context__


async def _body_not_received(request, error: StarletteHTTPException) -> JSONResponse:
    """Starlette spools a large upload to a temporary file before any route sees it, and FastAPI answers any failure
    there as a 400 "error parsing the body": no room for that file is the server's condition, a 507 saying so."""
    if error.status_code == 400 and any(storage_full(cause) for cause in _causes(error.__cause__)):
        detail = "the server has no room to receive this upload (disk full or quota); nothing was stored"
        return JSONResponse({"detail": detail}, status_code=507)
    return await http_exception_handler(request, error)


class UploadLimit:
    """Refuse bodies above the limit: from the declared size before any byte is read, else (a chunked upload
    declares none) as soon as the bytes received pass it. A plain ASGI middleware, so it can count the bytes."""

    def __init__(self, application, limit: int):
        self.application = application
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.application(scope, receive, send)
        length = Headers(scope=scope).get("content-length", "")
        if length.isdigit() and int(length) > self.limit:
            response = JSONResponse({"detail": self._too_large(f"{length} bytes")}, status_code=413)
            return await response(scope, receive, send)
        received = 0

        async def counting_receive():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                # Raised inside the route's body parsing: the exception handlers turn it into a JSON 413.
                raise HTTPException(413, self._too_large(f"more than {self.limit} bytes"))
            return message

        await self.application(scope, counting_receive, send)

    def _too_large(self, size: str) -> str:
        return f"upload of {size} exceeds the limit of {self.limit} bytes (conf max_upload_mb)"


def _asks_run_sync(value: str) -> bool:
    try:
        return parse_bool(value)
    except ValueError:  # not a boolean: MONAI Label's own validation answers it
        return False


class RefusedRequests(BaseHTTPMiddleware):
    """Refuse, with the reason, requests that MONAI Label would honour to the server's harm.

    - ``?run_sync=true`` trains or scores inside the server process and freezes every other request;
    - an image upload without ``?image=ID`` gets an id made from the file name, and a dotted UID loses all but its
      first component (``1.2.840.5.png`` becomes image ``1``);
    - a model upload or deletion (``PUT``/``DELETE /model/...``) would bypass champion/challenger and safe loading.
    """

    async def dispatch(self, request, call_next):
        if _asks_run_sync(request.query_params.get("run_sync", "")):
            detail = "run_sync is refused: it would block the server; start the task and poll its status instead"
            return JSONResponse({"detail": detail}, status_code=400)
        upload = request.method == "PUT" and request.url.path.rstrip("/") in IMAGE_UPLOAD_PATHS
        if upload and not request.query_params.get("image"):
            detail = "name the new study: PUT /datastore/image?image=ID (an id is never taken from a file name)"
            return JSONResponse({"detail": detail}, status_code=400)
        if request.method in ("PUT", "DELETE") and request.url.path.startswith("/model/"):
            detail = "the served model changes only by fine-tuning (POST /train/...) or on the server (--conf model)"
            return JSONResponse({"detail": detail}, status_code=405)
        return await call_next(request)


def harden(app: FastAPI, settings: ServingSettings, token: str | None, audit_folder: Path | None = None) -> FastAPI:
    """Add the refusals, the client-error answers, the web-page and host checks, the bearer token (with a
    ``token``) and the access audit (into ``audit_folder``, when given).

    Example:
        >>> from fastapi.testclient import TestClient
        >>> client = TestClient(harden(FastAPI(), ServingSettings(max_upload_mb=1), token=None))
        >>> client.post("/train/x", params={"run_sync": "true"}, headers={"Host": "127.0.0.1:8000"}).status_code
        400
        >>> client.get("/info/", headers={"Host": "127.0.0.1", "Origin": "http://evil.example"}).status_code
        403
    """
    access = WebAccess.from_settings(settings.allow_origins, settings.allow_hosts)
    app.add_exception_handler(ClientError, _client_error)
    app.add_exception_handler(json.JSONDecodeError, _bad_json)
    app.add_exception_handler(StarletteHTTPException, _body_not_received)
    app.add_middleware(UploadLimit, limit=settings.max_upload_bytes)
    app.add_middleware(RefusedRequests)
    if token:
        add_login_routes(app, token)
        app.add_middleware(BearerToken, token=token)
        logging.getLogger("uvicorn.access").addFilter(TokenRedaction())
        LOGGER.info("bearer-token access control is on (%s)", token_id(token))
    allow_cross_origin(app, access)
    app.add_middleware(WebGuard, access=access)
    if audit_folder is not None:
        client_of = BearerToken(None, token).client_of if token else (lambda scope: token_id(None))
        app.add_middleware(AccessAudit, folder=audit_folder, client_of=client_of)
    return app
