"""Hardening a FastAPI app (MONAI Label's) for a hospital network, in one explicit call: ``harden(app, ...)``.

- uploads larger than ``max_upload_mb`` are refused from their Content-Length, before they are read, and bodies
  sent without one (chunked) are cut off at the limit;
- ``run_sync`` (training or scoring inside the server process, which would freeze it), image uploads without an
  id and model uploads or deletions over HTTP are refused;
- a request the client got wrong (``ClientError``, malformed JSON) is a 400 with its reason; any other error stays
  a server error, so a bug is never passed off as the client's fault;
- optional bearer token on every endpoint (``ptxseg.serving.token.configured_token``).

Everything here must be set up before the first request: Starlette freezes middleware when the app starts.
"""

from __future__ import annotations

import json
import logging
import secrets

from fastapi import FastAPI, HTTPException
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.middleware.base import BaseHTTPMiddleware

from ptxseg.options import parse_bool
from ptxseg.serving.settings import ServingSettings

__all__ = ["BearerToken", "ClientError", "IMAGE_UPLOAD_PATHS", "RefusedRequests", "UploadLimit", "harden"]

LOGGER = logging.getLogger("ptxseg.server")
IMAGE_UPLOAD_PATHS = ("/datastore/image", "/datastore")


class ClientError(ValueError):
    """The request is wrong (a value the client sent, not a fault of the server): answered as a 400 with the
    message, which must say how to fix the request."""


async def _client_error(request, error: ClientError) -> JSONResponse:
    return JSONResponse({"detail": str(error)}, status_code=400)


async def _bad_json(request, error: json.JSONDecodeError) -> JSONResponse:
    return JSONResponse({"detail": f"malformed JSON in the request: {error.msg}"}, status_code=400)


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


class BearerToken(BaseHTTPMiddleware):
    """Every request must carry ``Authorization: Bearer <token>`` (constant-time comparison)."""

    def __init__(self, application, token: str):
        super().__init__(application)
        self.expected = f"Bearer {token}".encode()

    async def dispatch(self, request, call_next):
        if request.method == "OPTIONS":
            return await call_next(request)
        given = request.headers.get("authorization", "").encode()
        if not secrets.compare_digest(given, self.expected):
            detail = "missing or wrong bearer token: send 'Authorization: Bearer <token>'"
            return JSONResponse({"detail": detail}, status_code=401, headers={"WWW-Authenticate": "Bearer"})
        return await call_next(request)


def harden(app: FastAPI, settings: ServingSettings, token: str | None) -> FastAPI:
    """Add the upload limit, the refusals, the client-error answers and (with a ``token``) the bearer token.

    Example:
        >>> from fastapi.testclient import TestClient
        >>> app = harden(FastAPI(), ServingSettings(max_upload_mb=1), token=None)
        >>> TestClient(app).post("/train/x", params={"run_sync": "true"}).status_code
        400
    """
    app.add_exception_handler(ClientError, _client_error)
    app.add_exception_handler(json.JSONDecodeError, _bad_json)
    app.add_middleware(UploadLimit, limit=settings.max_upload_bytes)
    app.add_middleware(RefusedRequests)
    if token:
        app.add_middleware(BearerToken, token=token)
        LOGGER.info("bearer-token access control is on")
    return app
