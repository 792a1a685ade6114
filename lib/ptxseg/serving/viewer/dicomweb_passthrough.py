"""A read-only DICOMweb pass-through to the configured PACS, for the viewer on the server's own origin.

MONAI Label's ``/proxy/dicom`` does not suit OHIF: it drops the query string (QIDO filters) and the ``Accept``
header (multipart WADO-RS frames), forwards POSTs (STOW) and blocks the event loop. This forwards GETs of
``studies/...`` only, with their query and ``Accept``, and rewrites the PACS's own address in JSON answers
(Orthanc's ``BulkDataURI``) to the pass-through's, so that the browser never talks to the PACS itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import requests

__all__ = ["PassedThrough", "pass_through"]


@dataclass(frozen=True)
class PassedThrough:
    """The PACS's answer as the browser gets it."""

    status: int
    content: bytes
    headers: dict[str, str]


def pass_through(
    session: requests.Session, pacs_url: str, path: str, query: str, accept: str | None, public_root: str
) -> PassedThrough:
    """GET ``pacs_url/path?query`` with ``accept``; ``public_root`` (the pass-through's URL) replaces ``pacs_url``
    in JSON answers.

    Raises:
        ValueError: ``path`` is not a DICOMweb study resource (``studies`` or ``studies/...``).

    Example:
        >>> pass_through(requests.Session(), "http://pacs/dicom-web", "../admin", "", None, "http://me/review")
        Traceback (most recent call last):
        ...
        ValueError: only DICOMweb study resources pass through (studies/...), not '../admin'
    """
    parts = path.split("/")
    if parts[0] != "studies" or any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"only DICOMweb study resources pass through (studies/...), not {path!r}")
    headers = {"Accept": accept} if accept else {}
    url = f"{pacs_url.rstrip('/')}/{path}" + (f"?{query}" if query else "")
    answer = session.get(url, headers=headers)
    content = answer.content
    media_type = answer.headers.get("content-type", "")
    if "json" in media_type:
        content = content.replace(pacs_url.rstrip("/").encode(), public_root.rstrip("/").encode())
    # requests has already undone any Content-Encoding: only the media type (with its multipart boundary) stays.
    return PassedThrough(answer.status_code, content, {"content-type": media_type} if media_type else {})
