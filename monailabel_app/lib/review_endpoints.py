"""The radiologist's review on the server's own origin: the worklist page, OHIF's viewer with its configuration, a
read-only DICOMweb pass-through to the PACS for it, and the verdicts on the AI results.

- ``GET /review/`` the worklist page; ``GET /review/study/{study}`` opens a listed study in OHIF (404 otherwise);
- ``GET /review/verdicts``, ``POST /review/verdict`` ``{"image": ID, "verdict": "agree|disagree|corrected"}``;
- ``GET /review/dicomweb/studies/...`` the pass-through (``ptxseg.serving.viewer.dicomweb_passthrough``);
- ``GET /viewer/...`` OHIF's prebuilt files (``scripts/setup_viewer.sh``), ``/viewer/app-config.js`` ours.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Body, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from monailabel.interfaces.utils.app import app_instance

from ptxseg.serving.http import ClientError
from ptxseg.serving.viewer.dicomweb_passthrough import pass_through
from ptxseg.serving.viewer.ohif_config import DICOMWEB_PATH, app_config_js
from ptxseg.serving.viewer.ohif_files import VIEWER_PATH, ViewerFiles, default_viewer_dir
from ptxseg.serving.viewer.verdicts import VerdictStore
from ptxseg.serving.viewer.worklist_page import REVIEW_PATH, worklist_html


def _items() -> list[dict]:
    return app_instance().worklist()["items"]


def _verdicts() -> VerdictStore:
    return VerdictStore(app_instance().task.served.store.directory)


def worklist_page() -> HTMLResponse:
    """The worklist page (its data come from ``/worklist/``, 404 when pre-screening is off)."""
    _items()
    return HTMLResponse(worklist_html())


def open_study(study: str) -> RedirectResponse:
    """A worklist study in OHIF's viewer (its AI SEG is a series of the study); 404 for a study not listed."""
    if study not in {item["study"] for item in _items()}:
        raise HTTPException(404, f"study {study} is not on the worklist: open one from {REVIEW_PATH}/")
    return RedirectResponse(f"{VIEWER_PATH}/viewer?StudyInstanceUIDs={quote(study)}", status_code=303)


def verdicts() -> dict:
    """Each image's last verdict on its AI result."""
    return _verdicts().latest()


def record_verdict(image: str = Body(...), verdict: str = Body(...)) -> dict:
    """Record the radiologist's verdict on a worklist image's AI result; 404 for an image not listed."""
    if image not in {item["image"] for item in _items()}:
        raise HTTPException(404, f"image {image} is not on the worklist: give an image id from GET /worklist/")
    try:
        return _verdicts().record(image, verdict)
    except ValueError as error:
        raise ClientError(str(error)) from error


def dicomweb(path: str, request: Request) -> Response:
    """GET a study resource of the configured PACS, for the viewer."""
    studies = getattr(app_instance().datastore(), "studies", None)
    if studies is None:
        raise HTTPException(404, "no PACS is served: start with ptxseg serve --dicomweb URL")
    public_root = str(request.base_url).rstrip("/") + DICOMWEB_PATH
    try:
        answer = pass_through(
            studies.client.session,
            studies.client.url,
            path,
            request.url.query,
            request.headers.get("accept"),
            public_root,
        )
    except ValueError as error:
        raise ClientError(str(error)) from error
    return Response(answer.content, status_code=answer.status, headers=answer.headers)


def viewer_config() -> Response:
    """OHIF's configuration for this server."""
    return Response(app_config_js(), media_type="text/javascript")


def add_review_routes(app: FastAPI, viewer: ViewerFiles | None = None) -> FastAPI:
    """Add the review routes to ``app``; ``viewer`` defaults to the files ``scripts/setup_viewer.sh`` installed."""
    files = viewer or ViewerFiles(default_viewer_dir())

    def viewer_file(path: str = "") -> Response:
        """OHIF's files; 404 saying how to install them when they are missing."""
        try:
            content, media_type = files.read(path)
        except FileNotFoundError as error:
            raise HTTPException(404, str(error)) from error
        return Response(content, media_type=media_type)

    app.get(f"{REVIEW_PATH}/", summary="Worklist page: flagged first, verdicts, studies opened in OHIF")(worklist_page)
    app.get(f"{REVIEW_PATH}/study/{{study}}", summary="Open a worklist study in OHIF")(open_study)
    app.get(f"{REVIEW_PATH}/verdicts", summary="The radiologists' verdicts on the AI results")(verdicts)
    app.post(f"{REVIEW_PATH}/verdict", summary="Record a verdict: agree, disagree or corrected")(record_verdict)
    app.get(f"{DICOMWEB_PATH}/{{path:path}}", summary="Read-only DICOMweb pass-through to the PACS")(dicomweb)
    app.get(f"{VIEWER_PATH}/app-config.js", include_in_schema=False)(viewer_config)
    app.get(f"{VIEWER_PATH}/{{path:path}}", include_in_schema=False)(viewer_file)
    return app
