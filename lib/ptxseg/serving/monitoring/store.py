"""The monitoring record: one JSON line per inference and per final label, appended in the app's folder.

Append-only and restart-safe: each record is one ``os.write`` of a whole line to a file opened with ``O_APPEND``
(concurrent writers do not interleave on a local file system), fsynced; a line cut short by a crash is skipped
with a warning when read. A record holds only what ``INFERENCE_FIELDS`` and ``LABEL_FIELDS`` name: the image's id
as a salted hash (a DICOM UID is itself an Annex E attribute: it finds the patient in the PACS), scores, timing,
the model version, the source attributes of ``ptxseg.io.source`` and masks as SIIM RLE, never patient attributes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import threading
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ptxseg.datasets.siim import rle_encode
from ptxseg.image import CXRImage
from ptxseg.io.atomic import TEMPORARY_PREFIX
from ptxseg.io.source import read_source_attributes

__all__ = ["INFERENCE_FIELDS", "LABEL_FIELDS", "MONITORING_FOLDER", "MonitorStore"]

LOGGER = logging.getLogger(__name__)
MONITORING_FOLDER = "monitoring"
_RECORDS_NAME = "records.jsonl"
_SALT_NAME = "image-key.salt"
INFERENCE_FIELDS = (
    "kind",
    "time",
    "image",
    "model_version",
    "probability",
    "flag",
    "latency_ms",
    "source",
    "stats",
    "shape",
    "mask",
)
LABEL_FIELDS = ("kind", "time", "image", "shape", "label")


def _utc(time: datetime | None) -> str:
    """UTC, so that stored times compare as strings (a label after its prediction)."""
    return (time or datetime.now(timezone.utc)).astimezone(timezone.utc).isoformat(timespec="seconds")


class MonitorStore:
    """The monitoring records of one app, in ``<app>/monitoring/``.

    Example:
        >>> import tempfile
        >>> store = MonitorStore(tempfile.mkdtemp())
        >>> image = CXRImage(np.full((4, 4), 0.5, np.float32), (1.0, 1.0), None)
        >>> mask = np.eye(4, dtype=bool)
        >>> _ = store.record_inference("1.2.3", "1.2.3.png", image, mask, probability=0.9, flag=True, model_version=2)
        >>> _ = store.record_label("1.2.3", mask)
        >>> [record["kind"] for record in store.records()]
        ['inference', 'label']
    """

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)
        self.records_path = self.directory / _RECORDS_NAME
        self._lock = threading.Lock()
        self._salt: str | None = None

    @classmethod
    def for_app(cls, app_dir: str | os.PathLike) -> MonitorStore:
        """The store of the app in ``app_dir`` (``<app>/monitoring``)."""
        return cls(Path(app_dir) / MONITORING_FOLDER)

    @classmethod
    def beside(cls, model_dir: str | os.PathLike) -> MonitorStore:
        """The store beside a served model's folder: ``<app>/monitoring`` for the app's own ``<app>/model``, where
        ``ptxseg monitor --app`` reads it."""
        return cls(Path(model_dir).parent / MONITORING_FOLDER)

    def image_key(self, image_id: str) -> str:
        """The image's id as stored: a hash salted per app, the same across restarts."""
        return hashlib.sha256(f"{self._app_salt()}:{image_id}".encode()).hexdigest()[:24]

    def record_inference(
        self,
        image_id: str,
        image_path: str | os.PathLike,
        image: CXRImage,
        mask: np.ndarray,
        *,
        probability: float,
        flag: bool,
        model_version: int,
        latency_ms: float | None = None,
        time: datetime | None = None,
    ) -> dict:
        """Append what the served model said about one image (call after each inference).

        Args:
            image_id: the datastore's id of the image (stored hashed).
            image_path: the image file (its header's source attributes are read, nothing else).
            image: the image as read (``read_cxr``): for the intensity statistics.
            mask: the predicted mask on the image's grid.
            probability: the image-level pneumothorax probability.
            flag: whether the image was flagged for triage.
            model_version: the served model's version (``ModelRecord.version``).
            latency_ms: the inference time.
            time: when; now when None (UTC).

        Returns:
            The record written.
        """
        pixels = np.asarray(image.pixels, dtype=np.float64)
        record = {
            "kind": "inference",
            "time": _utc(time),
            "image": self.image_key(image_id),
            "model_version": int(model_version),
            "probability": float(probability),
            "flag": bool(flag),
            "latency_ms": None if latency_ms is None else round(float(latency_ms), 1),
            "source": read_source_attributes(image_path),
            "stats": {"mean": round(float(pixels.mean()), 5), "std": round(float(pixels.std()), 5)},
            "shape": list(np.shape(mask)),
            "mask": rle_encode(mask),
        }
        self._append(record)
        return record

    def record_label(self, image_id: str, label: np.ndarray, *, time: datetime | None = None) -> dict:
        """Append a final (human) label of an image (call when a final label is saved).

        Args:
            image_id: the datastore's id of the image (stored hashed).
            label: the label on the image's grid; nonzero = pneumothorax.
            time: when; now when None (UTC).
        """
        label = np.asarray(label) != 0
        record = {
            "kind": "label",
            "time": _utc(time),
            "image": self.image_key(image_id),
            "shape": list(label.shape),
            "label": rle_encode(label),
        }
        self._append(record)
        return record

    def records(self) -> list[dict]:
        """Every complete record, oldest first; a line cut short by a crash is skipped with a warning."""
        if not self.records_path.is_file():
            return []
        records = []
        for number, line in enumerate(self.records_path.read_text().splitlines(), start=1):
            try:
                records.append(json.loads(line))
            except ValueError:
                LOGGER.warning("%s line %d is incomplete (a crash while writing?); skipped", self.records_path, number)
        return records

    def _append(self, record: dict) -> None:
        line = (json.dumps(record, separators=(",", ":")) + "\n").encode()
        self.directory.mkdir(parents=True, exist_ok=True)
        with self._lock:
            handle = os.open(self.records_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                # A partial last line (a crash mid-write) must not swallow this record: start it on a line of its own.
                if os.fstat(handle).st_size and not self._ends_with_newline():
                    line = b"\n" + line
                os.write(handle, line)
                os.fsync(handle)
            finally:
                os.close(handle)

    def _ends_with_newline(self) -> bool:
        with self.records_path.open("rb") as file:
            file.seek(-1, os.SEEK_END)
            return file.read(1) == b"\n"

    def _app_salt(self) -> str:
        if self._salt is None:
            path = self.directory / _SALT_NAME
            if not path.is_file():
                self.directory.mkdir(parents=True, exist_ok=True)
                # Linked into place, never replaced: two first writers (threads, processes) agree on one salt.
                temporary = path.with_name(f"{TEMPORARY_PREFIX}{secrets.token_hex(6)}.{_SALT_NAME}")
                temporary.write_text(secrets.token_hex(16))
                try:
                    with contextlib.suppress(FileExistsError):
                        os.link(temporary, path)
                finally:
                    temporary.unlink()
            self._salt = path.read_text().strip()
        return self._salt
