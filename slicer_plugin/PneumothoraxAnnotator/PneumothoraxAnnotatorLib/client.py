"""HTTP client for the ptxseg MONAI Label server, standard library only so it runs inside 3D Slicer's Python."""

from __future__ import annotations

import http.client
import json
import socket
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

from .errors import NotFound, ProtocolError, ServerBusy, ServerError, ServerTimeout, ServerUnavailable, Unauthorized
from .filenames import safe_path, suffix_from_magic, suffix_from_name
from .multipart import FilePart, decode_multipart, encode_multipart
from .worklist import WorklistRow, worklist_rows

__all__ = ["DEFAULT_MODEL", "DEFAULT_SCORING_METHOD", "STRATEGIES", "PtxsegClient"]

DEFAULT_MODEL = "pneumothorax"
DEFAULT_SCORING_METHOD = "pneumothorax_scores"
STRATEGIES = ("uncertainty", "triage", "random", "first")

_MAX_ERROR_TEXT = 500
# The server's inference parameter asking for the probability map instead of the mask (ptxseg.inference.probability).
PROBABILITY_PARAM = "probability_map"
# Enough leading bytes to recognise every format in suffix_from_magic (NIfTI's magic sits at byte 344).
_MAGIC_BYTES = 352


@dataclass(frozen=True)
class _Response:
    status: int
    headers: Message
    body: bytes


class PtxsegClient:
    """One ptxseg MONAI Label server: every REST call the annotator needs, failures as typed exceptions.

    Args:
        server_url: ``http(s)://host:port`` of the server, e.g. ``http://127.0.0.1:8000``, or the URL that
            ``ptxseg serve`` prints, ``http://127.0.0.1:8000/?token=...``, whose token is then used.
        token: bearer token sent as ``Authorization: Bearer <token>`` (the server's default); it wins over one in
            the URL.
        timeout: seconds to wait for the server on ordinary calls.
        infer_timeout: seconds to wait for an inference (the first one also loads the model).
        model: the server's model name for infer and train.

    Raises (from every call):
        ServerUnavailable / ServerTimeout: no answer. NotFound (404), Unauthorized (401/403), ServerBusy (429),
        ServerError (other HTTP errors) carry ``status`` and the server's message. ProtocolError: a 2xx answer
        of the wrong shape.

    Example:
        >>> client = PtxsegClient("http://127.0.0.1:8000/")
        >>> client.server_url
        'http://127.0.0.1:8000'
        >>> PtxsegClient("http://127.0.0.1:8000/?token=s3cret")
        PtxsegClient('http://127.0.0.1:8000', token=***)
    """

    def __init__(
        self,
        server_url: str,
        token: str | None = None,
        timeout: float = 30.0,
        infer_timeout: float = 180.0,
        model: str = DEFAULT_MODEL,
    ):
        parsed = urllib.parse.urlparse(server_url.strip() if isinstance(server_url, str) else "")
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"server URL must look like http://host:port, got {_without_query(server_url)!r}")
        if timeout <= 0 or infer_timeout <= 0:
            raise ValueError(f"timeouts must be positive seconds, got timeout={timeout}, infer_timeout={infer_timeout}")
        self._base_url = urllib.parse.urlunparse(parsed._replace(query="", fragment="")).rstrip("/")
        self._token = token or _url_token(parsed) or None
        self.timeout = timeout
        self.infer_timeout = infer_timeout
        self.model = model

    @property
    def server_url(self) -> str:
        """The server's base URL without a trailing slash."""
        return self._base_url

    def __repr__(self) -> str:
        return f"PtxsegClient({self._base_url!r}, token={'***' if self._token else None})"

    def info(self) -> dict:
        """``GET /info/``: app name, labels, models, strategies, datastore counts and the ``ptxseg`` model state.

        Example:
            >>> PtxsegClient("http://127.0.0.1:8000").info()["ptxseg"]["model"]["version"]  # doctest: +SKIP
            '20240101-120000'
        """
        return self._json(self._send("GET", "/info/"))

    def monitoring(self) -> dict | None:
        """``GET /monitoring/``: drift alert, last period's agreement and the model timeline; None from a server
        without monitoring (an older ptxseg, or MONAI Label's own ``start_server``).

        Example:
            >>> PtxsegClient("http://127.0.0.1:8000").monitoring()["alert"]["state"]  # doctest: +SKIP
            'ok'
        """
        try:
            return self._json(self._send("GET", "/monitoring/"))
        except NotFound:
            return None

    def next_image(self, strategy: str = "uncertainty") -> str | None:
        """``POST /activelearning/{strategy}``: the id of the next image to annotate, None when none is left.

        Example:
            >>> PtxsegClient("http://127.0.0.1:8000").next_image("first")  # doctest: +SKIP
            '1.2.276.0.7230010.3.1.4.8323329.5597.1517875188.959090'
        """
        if not isinstance(strategy, str) or not strategy:
            raise ValueError(f"strategy must be a name such as {STRATEGIES}, got {strategy!r}")
        result = self._json(self._send("POST", f"/activelearning/{_path_segment(strategy)}", json_body={}))
        if not result:
            return None
        image_id = result.get("id") if isinstance(result, dict) else None
        if not isinstance(image_id, str) or not image_id:
            raise ProtocolError(f"active learning answer has no image id: {str(result)[:_MAX_ERROR_TEXT]}")
        return image_id

    def download_image(self, image_id: str, dest_dir: str | Path) -> Path:
        """``GET /datastore/image``: save the image file inside ``dest_dir`` under a safe name; return its path.

        Example:
            >>> PtxsegClient("http://127.0.0.1:8000").download_image("1.2.3", "/tmp/ptx").name  # doctest: +SKIP
            '1.2.3.dcm'
        """
        response = self._send("GET", "/datastore/image", query={"image": image_id})
        return _save(response, dest_dir, image_id)

    def infer(
        self,
        image_id: str,
        dest_dir: str | Path | None = None,
        params: dict | None = None,
        probability: bool = False,
    ) -> tuple[Path, dict]:
        """``POST /infer/{model}?output=all``: the label file (on the image's grid) and the result JSON.

        Args:
            image_id: the image to segment.
            dest_dir: where to save the label; a new temporary folder when None.
            params: extra inference parameters the server understands.
            probability: return the model's probability map (float32 in [0, 1], on the image's grid) instead of
                the mask: the server's ``probability_map`` parameter.

        Example:
            >>> label_path, result = PtxsegClient("http://127.0.0.1:8000").infer("1.2.3")  # doctest: +SKIP
            >>> result["pneumothorax_probability"]  # doctest: +SKIP
            0.93
        """
        params = {**(params or {}), **({PROBABILITY_PARAM: True} if probability else {})}
        body, content_type = encode_multipart({"params": json.dumps(params)}, [])
        response = self._send(
            "POST",
            f"/infer/{_path_segment(self.model)}",
            query={"image": image_id, "output": "all"},
            body=body,
            content_type=content_type,
            timeout=self.infer_timeout,
        )
        if not response.headers.get_content_type().startswith("multipart/"):
            raise ProtocolError(f"inference returned no label file, only: {response.body[:_MAX_ERROR_TEXT]!r}")
        parts = decode_multipart(response.body, response.headers.get("Content-Type", ""))
        result_part = next((part for part in parts if part.filename is None), None)
        label_part = next((part for part in parts if part.filename is not None), None)
        if label_part is None or result_part is None:
            raise ProtocolError(f"inference answer lacks the label or the JSON part: {[p.name for p in parts]}")
        folder = Path(dest_dir) if dest_dir is not None else Path(tempfile.mkdtemp(prefix="ptxseg-"))
        suffix = suffix_from_name(label_part.filename) or suffix_from_magic(label_part.content[:_MAGIC_BYTES])
        kind = "probability" if probability else "label"
        label_path = safe_path(folder, f"{image_id}.{kind}", suffix or ".bin")
        label_path.write_bytes(label_part.content)
        return label_path, _json_object(result_part.content, "inference result")

    def upload_label(
        self, image_id: str, label_path: str | Path, params: dict | None = None, tag: str = "final"
    ) -> dict:
        """``PUT /datastore/label``: store ``label_path`` as the ``tag`` label of ``image_id``.

        Example:
            >>> PtxsegClient("http://127.0.0.1:8000").upload_label("1.2.3", "edited.nrrd")  # doctest: +SKIP
            {'image': '1.2.3', 'label': '1.2.3'}
        """
        path = Path(label_path)
        suffix = suffix_from_name(path.name)
        if suffix is None:
            raise ValueError(f"label file {path} needs a known suffix such as .nrrd or .nii.gz")
        # The server derives the stored file's type from every suffix of the upload name, so the
        # name must not carry the image id's dots.
        label_file = FilePart("label", f"label{suffix}", path.read_bytes())
        body, content_type = encode_multipart({"params": json.dumps(params or {})}, [label_file])
        response = self._send(
            "PUT", "/datastore/label", query={"image": image_id, "tag": tag}, body=body, content_type=content_type
        )
        return self._json(response)

    def download_label(self, image_id: str, dest_dir: str | Path, tag: str = "final") -> Path:
        """``GET /datastore/label``: save the stored ``tag`` label of ``image_id`` inside ``dest_dir``.

        Example:
            >>> PtxsegClient("http://127.0.0.1:8000").download_label("1.2.3", "/tmp/ptx").name  # doctest: +SKIP
            '1.2.3.final.nrrd'
        """
        response = self._send("GET", "/datastore/label", query={"label": image_id, "tag": tag})
        return _save(response, dest_dir, f"{image_id}.{tag}")

    def start_training(self, params: dict | None = None) -> dict:
        """``POST /train/{model}``: start fine-tuning; the task record. ServerBusy when one already runs.

        Example:
            >>> PtxsegClient("http://127.0.0.1:8000").start_training({"max_epochs": 1})["status"]  # doctest: +SKIP
            'SUBMITTED'
        """
        return self._json(self._send("POST", f"/train/{_path_segment(self.model)}", json_body=params or {}))

    def training_status(self, check_if_running: bool = False) -> dict | None:
        """``GET /train/``: the latest training task (or only a running one), None when there is none.

        Example:
            >>> PtxsegClient("http://127.0.0.1:8000").training_status()["status"]  # doctest: +SKIP
            'RUNNING'
        """
        return self._task_status("/train/", check_if_running)

    def stop_training(self) -> dict | None:
        """``DELETE /train/``: stop the running training; the stopped task, None when nothing ran."""
        return self._json(self._send("DELETE", "/train/"))

    def start_scoring(self, params: dict | None = None, method: str = DEFAULT_SCORING_METHOD) -> dict:
        """``POST /scoring/{method}``: score the unlabelled images with the current model (for the worklist)."""
        return self._json(self._send("POST", f"/scoring/{_path_segment(method)}", json_body=params or {}))

    def scoring_status(self, check_if_running: bool = False) -> dict | None:
        """``GET /scoring/``: the latest scoring task, None when there is none."""
        return self._task_status("/scoring/", check_if_running)

    def datastore(self) -> dict:
        """``GET /datastore/?output=all``: every image with its info and labels."""
        return self._json(self._send("GET", "/datastore/", query={"output": "all"}))

    def worklist(self, current_model_version: str | None = None, include_labelled: bool = False) -> list[WorklistRow]:
        """The datastore as worklist rows, most likely pneumothorax first (see ``worklist_rows``).

        Example:
            >>> rows = PtxsegClient("http://127.0.0.1:8000").worklist()  # doctest: +SKIP
            >>> [(row.image_id, row.probability, row.flagged) for row in rows][:1]  # doctest: +SKIP
            [('1.2.3', 0.97, True)]
        """
        return worklist_rows(self.datastore(), current_model_version, include_labelled)

    def _task_status(self, path: str, check_if_running: bool) -> dict | None:
        query = {"check_if_running": "true"} if check_if_running else None
        try:
            return self._json(self._send("GET", path, query=query))
        except NotFound:
            return None

    def _json(self, response: _Response):
        try:
            return json.loads(response.body) if response.body.strip() else None
        except ValueError:
            raise ProtocolError(f"expected JSON, got: {response.body[:_MAX_ERROR_TEXT]!r}") from None

    def _send(
        self,
        method: str,
        path: str,
        query: dict | None = None,
        json_body: dict | None = None,
        body: bytes | None = None,
        content_type: str | None = None,
        timeout: float | None = None,
    ) -> _Response:
        url = self._base_url + path + (f"?{urllib.parse.urlencode(query)}" if query else "")
        headers = {"Accept": "application/json, multipart/form-data, */*"}
        if json_body is not None:
            body, content_type = json.dumps(json_body).encode("utf-8"), "application/json"
        if content_type:
            headers["Content-Type"] = content_type
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        request = urllib.request.Request(url, data=body, headers=headers, method=method)
        wait = timeout or self.timeout
        try:
            with urllib.request.urlopen(request, timeout=wait) as answer:
                return _Response(answer.status, answer.headers, answer.read())
        except urllib.error.HTTPError as error:
            raise _error_for_status(error.code, _server_message(error.read(), error.reason)) from None
        except urllib.error.URLError as error:
            if isinstance(error.reason, (TimeoutError, socket.timeout)):  # noqa: UP041 (socket.timeout on Slicer's 3.9)
                raise ServerTimeout(f"{method} {path}: no answer from {self._base_url} within {wait:g} s") from None
            raise ServerUnavailable(f"cannot reach the ptxseg server at {self._base_url}: {error.reason}") from None
        except (TimeoutError, socket.timeout):  # noqa: UP041
            raise ServerTimeout(f"{method} {path}: no answer from {self._base_url} within {wait:g} s") from None
        except (ConnectionError, http.client.HTTPException) as error:
            raise ServerUnavailable(f"connection to {self._base_url} failed during {method} {path}: {error}") from None


def _save(response: _Response, dest_dir: str | Path, name: str) -> Path:
    """Write a file answer inside ``dest_dir``, typed by the server's file name or else by its magic bytes."""
    suffix = suffix_from_name(response.headers.get_filename()) or suffix_from_magic(response.body[:_MAGIC_BYTES])
    folder = Path(dest_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = safe_path(folder, name, suffix or ".bin")
    path.write_bytes(response.body)
    return path


def _json_object(content: bytes, what: str) -> dict:
    try:
        value = json.loads(content)
    except ValueError:
        raise ProtocolError(f"{what} is not JSON: {content[:_MAX_ERROR_TEXT]!r}") from None
    if not isinstance(value, dict):
        raise ProtocolError(f"{what} is not a JSON object: {content[:_MAX_ERROR_TEXT]!r}")
    return value


def _path_segment(name: str) -> str:
    return urllib.parse.quote(name, safe="")


def _server_message(body: bytes, reason: str) -> str:
    """The server's own explanation: FastAPI's ``detail`` (text or validation list), else the body text."""
    try:
        payload = json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace").strip()[:_MAX_ERROR_TEXT] or str(reason)
    detail = payload.get("detail") if isinstance(payload, dict) else payload
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        return "; ".join(str(item.get("msg", item)) if isinstance(item, dict) else str(item) for item in detail)
    return json.dumps(payload)[:_MAX_ERROR_TEXT]


def _error_for_status(status: int, message: str) -> ServerError:
    if status == 404:
        return NotFound(status, message)
    if status in (401, 403):
        return Unauthorized(status, message)
    if status == 429:
        return ServerBusy(status, message)
    return ServerError(status, message)


def _url_token(parsed: urllib.parse.ParseResult) -> str | None:
    """The ``token`` query parameter of a URL such as the one ``ptxseg serve`` prints."""
    values = urllib.parse.parse_qs(parsed.query).get("token")
    return values[0] if values else None


def _without_query(url) -> str:
    """A URL fit for an error message: its query, which may hold the token, left out."""
    return url.split("?", 1)[0] if isinstance(url, str) else url
