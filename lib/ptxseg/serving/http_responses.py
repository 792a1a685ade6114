"""What the server answers, filtered: no server paths in responses, and a 404 for a task that does not exist.

MONAI Label (0.8.5) puts the server's absolute file paths into its answers (``"path": "/data/.../<id>.dcm"`` from
``/activelearning/*``, the image and label info, the datastore listing) and answers ``POST /train/<unknown>`` with
200, starting a training subprocess that then fails. Both are fixed here at the ASGI level, so no MONAI Label code is
forked or imported: a JSON answer (or the JSON part of a multipart one, as ``/infer?output=all`` sends) is rewritten
before it leaves, and a request naming an unknown task is answered before it reaches MONAI Label.

Example:
    >>> from fastapi import FastAPI
    >>> from fastapi.testclient import TestClient
    >>> app = FastAPI()
    >>> _ = app.get("/next")(lambda: {"id": "a", "path": "/data/studies/a.dcm", "note": "read /data/studies/a.dcm"})
    >>> _ = app.post("/train/{name}")(lambda name: {"started": name})
    >>> app = filter_responses(app, hidden_roots=["/data/studies"], known_tasks={"/train/": lambda: ["ptx"]})
    >>> TestClient(app).get("/next").json()
    {'id': 'a', 'note': 'read a.dcm'}
    >>> TestClient(app).post("/train/other").json()["detail"]
    "no task 'other' at /train/; known: ['ptx']"
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Collection, Iterable, Mapping

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse

__all__ = ["KnownTasks", "PATH_KEYS", "ServerPathsRemoved", "filter_responses", "without_server_paths"]

# Keys whose absolute values are file locations on the server (MONAI Label's ``path``; ``file`` and ``filename``
# appear in its infer results): dropped, since a bare name there would pose as a usable path.
PATH_KEYS = frozenset({"path", "file", "filename", "image_path", "label_path"})
_JSON_TYPES = ("application/json",)
_MULTIPART = "multipart/form-data"


def filter_responses(
    app,
    *,
    hidden_roots: Iterable[str | os.PathLike],
    known_tasks: Mapping[str, Callable[[], Collection[str]]] | None = None,
    expose_paths: bool = False,
):
    """Wrap ``app`` (a FastAPI or any ASGI app): server paths left out of answers, unknown tasks answered 404.

    Args:
        app: the application; returned wrapped in ``app.add_middleware`` order (FastAPI) or as an ASGI callable.
        hidden_roots: folders whose paths never leave the server (studies, model, app, temporary folder).
        known_tasks: route prefix (``"/train/"``) -> a callable returning the names valid after it, asked at each
            request (the app's tasks are known only once it is initialised).
        expose_paths: keep server paths in answers (a trusted single-user setup that wants them).
    """
    if hasattr(app, "add_middleware"):
        if not expose_paths:
            app.add_middleware(ServerPathsRemoved, hidden_roots=hidden_roots)
        app.add_middleware(KnownTasks, known_tasks=known_tasks or {})
        return app
    if not expose_paths:
        app = ServerPathsRemoved(app, hidden_roots=hidden_roots)
    return KnownTasks(app, known_tasks=known_tasks or {})


class KnownTasks:
    """``POST <prefix><name>`` for a name its prefix does not know is a 404 listing the known names."""

    def __init__(self, application, known_tasks: Mapping[str, Callable[[], Collection[str]]]):
        self.application = application
        self.known_tasks = dict(known_tasks)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "POST":
            for prefix, names in self.known_tasks.items():
                name = scope["path"][len(prefix) :].strip("/") if scope["path"].startswith(prefix) else ""
                if name and "/" not in name and name not in (known := sorted(names())):
                    detail = f"no task {name[:80]!r} at {prefix}; known: {known}"
                    return await JSONResponse({"detail": detail}, status_code=404)(scope, receive, send)
        return await self.application(scope, receive, send)


class ServerPathsRemoved:
    """JSON answers (whole, or as parts of a multipart answer) leave with no path under the hidden roots.

    An entry keyed like a path (``PATH_KEYS``) with an absolute value is dropped; any other string loses the hidden
    roots it contains, so ``"cannot read /data/studies/a.dcm"`` becomes ``"cannot read a.dcm"``.
    """

    def __init__(self, application, hidden_roots: Iterable[str | os.PathLike]):
        self.application = application
        roots = {os.fspath(root).rstrip(os.sep) for root in hidden_roots}
        roots |= {os.path.realpath(root) for root in roots}
        # Longest first, so that a root inside another is removed whole.
        self.pattern = re.compile("|".join(re.escape(root + os.sep) for root in sorted(roots, key=len, reverse=True)))

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"].startswith(("/openapi", "/docs", "/redoc")):
            return await self.application(scope, receive, send)
        start: dict | None = None
        body = bytearray()

        async def filtering_send(message):
            nonlocal start
            if message["type"] == "http.response.start":
                if _filtered_type(Headers(raw=message["headers"])):
                    start = message
                    return None
                return await send(message)
            if start is None or message["type"] != "http.response.body":
                return await send(message)
            body.extend(message.get("body", b""))
            if message.get("more_body"):
                return None
            content = self._filtered(Headers(raw=start["headers"]), bytes(body))
            headers = MutableHeaders(raw=list(start["headers"]))
            headers["content-length"] = str(len(content))
            await send({**start, "headers": headers.raw})
            return await send({"type": "http.response.body", "body": content})

        return await self.application(scope, receive, filtering_send)

    def _filtered(self, headers: Headers, content: bytes) -> bytes:
        kind = headers.get("content-type", "")
        if kind.startswith(_MULTIPART):
            return self._filtered_multipart(kind, content)
        return self._filtered_json(content)

    def _filtered_json(self, content: bytes) -> bytes:
        try:
            document = json.loads(content)
        except ValueError:  # not JSON after all: nothing to rewrite
            return content
        return json.dumps(without_server_paths(document, self.pattern)).encode()

    def _filtered_multipart(self, kind: str, content: bytes) -> bytes:
        boundary = re.search(r'boundary="?([^";]+)', kind)
        if not boundary:
            return content
        delimiter = b"--" + boundary.group(1).encode()
        parts = content.split(delimiter)
        for index, part in enumerate(parts):
            head, separator, payload = part.partition(b"\r\n\r\n")
            if separator and b"application/json" in head.lower():
                ending = b"\r\n" if payload.endswith(b"\r\n") else b""
                filtered = self._filtered_json(payload[: len(payload) - len(ending)])
                parts[index] = head + separator + filtered + ending
        return delimiter.join(parts)


def _filtered_type(headers: Headers) -> bool:
    kind = headers.get("content-type", "")
    return kind.startswith(_JSON_TYPES) or kind.startswith(_MULTIPART)


def without_server_paths(document, pattern: re.Pattern):
    """``document`` (parsed JSON) without entries naming server paths, and with ``pattern`` cut out of strings.

    Example:
        >>> roots = re.compile(re.escape("/srv/studies/"))
        >>> without_server_paths({"id": "a", "path": "/srv/studies/a.dcm", "names": ["/srv/studies/b.png"]}, roots)
        {'id': 'a', 'names': ['b.png']}
    """
    if isinstance(document, dict):
        return {
            pattern.sub("", key): without_server_paths(value, pattern)
            for key, value in document.items()
            if not (key in PATH_KEYS and isinstance(value, str) and os.path.isabs(value))
        }
    if isinstance(document, list):
        return [without_server_paths(value, pattern) for value in document]
    if isinstance(document, str):
        return pattern.sub("", document)
    return document
