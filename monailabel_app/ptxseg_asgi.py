"""ASGI entry of ``ptxseg serve``: MONAI Label's FastAPI app, hardened for a hospital network.

- errors raised before the app's own code (unknown model, bad JSON, MONAI Label exceptions) become clear 4xx JSON
  instead of a 500 with a traceback;
- ``POST /infer/{model}`` runs in a worker thread, so one inference no longer freezes every other request;
- uploads larger than the configured limit are refused from their Content-Length, before they are read;
- optional bearer token on every endpoint (``PTXSEG_TOKEN`` or ``PTXSEG_TOKEN_FILE``).

Everything here must be set up before the first request: Starlette freezes middleware when the app starts.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from pathlib import Path

from fastapi import BackgroundTasks, File, Form, UploadFile
from fastapi.responses import JSONResponse
from monailabel.app import app
from monailabel.endpoints import infer as stock_infer
from monailabel.interfaces.exception import MONAILabelError, MONAILabelException
from starlette.middleware.base import BaseHTTPMiddleware

LOGGER = logging.getLogger("ptxseg.server")
DEFAULT_MAX_UPLOAD_MB = 64
ERROR_STATUS = {
    MONAILabelError.INVALID_INPUT: 400,
    MONAILabelError.APP_ERROR: 404,
    MONAILabelError.APP_INIT_ERROR: 400,
}
UPLOAD_METHODS = ("PUT", "POST")


def _configured_token() -> str | None:
    token = os.environ.get("PTXSEG_TOKEN")
    token_file = os.environ.get("PTXSEG_TOKEN_FILE")
    if not token and token_file:
        token = Path(token_file).read_text().strip()
    return token or None


def _max_upload_bytes() -> int:
    conf = json.loads(os.environ.get("MONAI_LABEL_APP_CONF") or "{}")
    return int(conf.get("max_upload_mb", DEFAULT_MAX_UPLOAD_MB)) * 2**20


async def _monailabel_error(request, error: MONAILabelException) -> JSONResponse:
    status = ERROR_STATUS.get(error.error, 500)
    return JSONResponse({"detail": error.msg, "error": error.error.value}, status_code=status)


async def _bad_json(request, error: json.JSONDecodeError) -> JSONResponse:
    return JSONResponse({"detail": f"malformed JSON in the request: {error.msg}"}, status_code=400)


async def _bad_value(request, error: ValueError) -> JSONResponse:
    return JSONResponse({"detail": str(error)}, status_code=400)


class UploadLimit(BaseHTTPMiddleware):
    """Refuse uploads above the limit from their declared size (no body is read first)."""

    def __init__(self, application, limit: int):
        super().__init__(application)
        self.limit = limit

    async def dispatch(self, request, call_next):
        length = request.headers.get("content-length")
        if request.method in UPLOAD_METHODS and length and length.isdigit() and int(length) > self.limit:
            detail = f"upload of {length} bytes exceeds the limit of {self.limit} bytes (conf max_upload_mb)"
            return JSONResponse({"detail": detail}, status_code=413)
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


@app.post("/infer/{model}", summary="Run inference (in a worker thread)")
def infer_in_thread(
    background_tasks: BackgroundTasks,
    model: str,
    image: str = "",
    session_id: str = "",
    params: str = Form("{}"),
    file: UploadFile = File(None),
    label: UploadFile = File(None),
    output: stock_infer.ResultType | None = None,
):
    """The stock endpoint's behaviour, as a plain ``def`` route that FastAPI runs in its thread pool."""
    return stock_infer.run_inference(background_tasks, model, image, session_id, params, file, label, output)


# The stock async route is registered first and would shadow ours: move ours to the front.
app.router.routes.insert(0, app.router.routes.pop())
app.add_exception_handler(MONAILabelException, _monailabel_error)
app.add_exception_handler(json.JSONDecodeError, _bad_json)
app.add_exception_handler(ValueError, _bad_value)
app.add_middleware(UploadLimit, limit=_max_upload_bytes())
_TOKEN = _configured_token()
if _TOKEN:
    app.add_middleware(BearerToken, token=_TOKEN)
    LOGGER.info("bearer-token access control is on")
