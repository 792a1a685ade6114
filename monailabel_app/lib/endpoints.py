"""MONAI Label's FastAPI app as ``ptxseg serve`` runs it: ``ptxseg.serving.http.harden`` plus what needs MONAI Label.

- ``POST /infer/{model}`` runs in a worker thread, so one inference no longer freezes every other request, and
  takes only stored studies, by id;
- MONAI Label's own exceptions (unknown model, unknown study) become clear 4xx JSON instead of a 500;
- ``GET /monitoring/`` serves the monitoring summary (``ptxseg.serving.monitoring``), ``GET /worklist/`` the PACS
  pre-screening worklist;
- answers carry no server paths (unless conf ``expose_paths``), and a POST to an unknown trainer or scoring method is
  a 404 listing the known ones (``ptxseg.serving.http_responses``).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from fastapi import BackgroundTasks, FastAPI, File, Form, UploadFile
from fastapi.responses import JSONResponse
from monailabel.config import settings as monailabel_settings
from monailabel.endpoints import infer as stock_infer
from monailabel.interfaces.exception import MONAILabelError, MONAILabelException
from monailabel.interfaces.utils.app import app_instance

from ptxseg.serving.app_location import app_model_dir
from ptxseg.serving.http import ClientError, harden
from ptxseg.serving.http_responses import filter_responses
from ptxseg.serving.monitoring.summary import monitoring_summary
from ptxseg.serving.settings import ServingSettings
from ptxseg.serving.token import configured_token

ERROR_STATUS = {
    MONAILabelError.INVALID_INPUT: 400,
    MONAILabelError.APP_ERROR: 404,
    MONAILabelError.APP_INIT_ERROR: 400,
}


async def _monailabel_error(request, error: MONAILabelException) -> JSONResponse:
    status = ERROR_STATUS.get(error.error, 500)
    return JSONResponse({"detail": error.msg, "error": error.error.value}, status_code=status)


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
        raise ClientError(detail)
    if not image:
        raise ClientError(f"which study? POST /infer/{model}?image=ID")
    if output == stock_infer.ResultType.dicom_seg:
        raise ClientError("output=dicom_seg needs a DICOMweb datastore; use output=image, json or all")
    if not isinstance(json.loads(params or "{}"), dict):
        raise ClientError("params must be a JSON object, such as {}")
    return stock_infer.run_inference(background_tasks, model, image, session_id, params, file, label, output)


def monitoring() -> dict:
    """``GET /monitoring/``: drift alert, last period's agreement with the annotators, the model timeline."""
    task = app_instance().task
    return monitoring_summary(task.monitor, model_dir=task.served.store.directory)


def worklist() -> dict:
    """The PACS pre-screening worklist (``--dicomweb URL --conf prescreen true``); 404 when pre-screening is off."""
    return app_instance().worklist()


def _task_names(kind: str):
    """The app's trainer or scoring names, read at each request (the app is built after this module loads)."""
    return lambda: sorted(getattr(app_instance(), kind))


def hardened(app: FastAPI, settings: ServingSettings | None = None) -> FastAPI:
    """``app`` (MONAI Label's) with the threaded ``/infer``, MONAI Label's errors as 4xx, and ``harden``'s checks
    configured from ``settings`` (default: the server's conf) and the environment, with the access audit beside the
    served model. The sample apps pass theirs."""
    app.post("/infer/{model}", summary="Run inference (in a worker thread)")(infer_in_thread)
    # The stock async route is registered first and would shadow ours: move ours to the front.
    app.router.routes.insert(0, app.router.routes.pop())
    app.get("/monitoring/", summary="How the served model does over time (drift, agreement, timeline)")(monitoring)
    app.get("/worklist/", summary="Pre-screening worklist: flagged first, with probability, flag, acquisition, review")(
        worklist
    )
    app.add_exception_handler(MONAILabelException, _monailabel_error)
    settings = settings or ServingSettings.from_environment()
    roots = [monailabel_settings.MONAI_LABEL_STUDIES, monailabel_settings.MONAI_LABEL_APP_DIR, tempfile.gettempdir()]
    filter_responses(
        app,
        hidden_roots=[*roots, *([settings.model_dir] if settings.model_dir else [])],
        known_tasks={"/train/": _task_names("_trainers"), "/scoring/": _task_names("_scoring_methods")},
        expose_paths=settings.expose_paths,
    )
    app_dir = monailabel_settings.MONAI_LABEL_APP_DIR
    model_dir = Path(settings.model_dir) if settings.model_dir else app_model_dir(app_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    return harden(app, settings, configured_token(), audit_folder=model_dir)
