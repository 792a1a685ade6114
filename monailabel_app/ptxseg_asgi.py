"""ASGI entry of ``ptxseg serve``: MONAI Label's FastAPI app, hardened for a hospital network.

- errors raised before the app's own code (unknown model, bad JSON, MONAI Label exceptions) become clear 4xx JSON
  instead of a 500 with a traceback;
- ``POST /infer/{model}`` runs in a worker thread, so one inference no longer freezes every other request;
- uploads larger than the configured limit are refused from their Content-Length, before they are read, and
  bodies sent without one (chunked) are cut off at the limit;
- ``run_sync`` (training or scoring inside the server process, which would freeze it), image uploads without an
  id and model uploads or deletions over HTTP are refused;
- optional bearer token on every endpoint (``PTXSEG_TOKEN`` or ``PTXSEG_TOKEN_FILE``, see
  ``ptxseg.cli.serve.configured_token``).

Everything here must be set up before the first request: Starlette freezes middleware when the app starts.
"""

from __future__ import annotations

import json
import logging
import os
import secrets

from fastapi import BackgroundTasks, File, Form, HTTPException, UploadFile
from fastapi.responses import JSONResponse
from monailabel.app import app
from monailabel.endpoints import infer as stock_infer
from monailabel.interfaces.exception import MONAILabelError, MONAILabelException
from monailabel.interfaces.utils.app import app_instance
from starlette.datastructures import Headers
from starlette.middleware.base import BaseHTTPMiddleware

from ptxseg.cli.serve import configured_token

LOGGER = logging.getLogger("ptxseg.server")
DEFAULT_MAX_UPLOAD_MB = 64
IMAGE_UPLOAD_PATHS = ("/datastore/image", "/datastore")
ERROR_STATUS = {
    MONAILabelError.INVALID_INPUT: 400,
    MONAILabelError.APP_ERROR: 404,
    MONAILabelError.APP_INIT_ERROR: 400,
}


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


class RefusedRequests(BaseHTTPMiddleware):
    """Refuse, with the reason, requests that MONAI Label would honour to the server's harm.

    - ``?run_sync=true`` trains or scores inside the server process and freezes every other request;
    - an image upload without ``?image=ID`` gets an id made from the file name, and a dotted UID loses all but its
      first component (``1.2.840.5.png`` becomes image ``1``);
    - a model upload or deletion (``PUT``/``DELETE /model/...``) would bypass champion/challenger and safe loading.
    """

    async def dispatch(self, request, call_next):
        if request.query_params.get("run_sync", "").lower() in ("1", "true", "yes", "on"):
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
    """The stock endpoint's behaviour, as a plain ``def`` route that FastAPI runs in its thread pool.

    Only studies of the datastore are inferred, by id: no server path, no upload, no session, no input label.
    """
    if file is not None or label is not None or session_id:
        detail = "only stored studies are inferred, by id: upload with PUT /datastore/image?image=ID, then infer ID"
        raise HTTPException(400, detail)
    if not image:
        raise HTTPException(400, f"which study? POST /infer/{model}?image=ID")
    if output == stock_infer.ResultType.dicom_seg:
        raise HTTPException(400, "output=dicom_seg needs a DICOMweb datastore; use output=image, json or all")
    if not isinstance(json.loads(params or "{}"), dict):
        raise HTTPException(400, "params must be a JSON object, such as {}")
    return stock_infer.run_inference(background_tasks, model, image, session_id, params, file, label, output)


# The stock async route is registered first and would shadow ours: move ours to the front.
app.router.routes.insert(0, app.router.routes.pop())


@app.get("/worklist/", summary="Pre-screening worklist: flagged first, with probability, flag, acquisition, review")
def worklist():
    """The PACS pre-screening worklist (``--dicomweb URL --conf prescreen true``); 404 when pre-screening is off."""
    return app_instance().worklist()


app.add_exception_handler(MONAILabelException, _monailabel_error)
app.add_exception_handler(json.JSONDecodeError, _bad_json)
app.add_exception_handler(ValueError, _bad_value)
app.add_middleware(UploadLimit, limit=_max_upload_bytes())
app.add_middleware(RefusedRequests)
_TOKEN = configured_token()
if _TOKEN:
    app.add_middleware(BearerToken, token=_TOKEN)
    LOGGER.info("bearer-token access control is on")
