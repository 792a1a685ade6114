"""The served model's folder: the checkpoint in use, the one before it, and a record of how each got there.

Used by the MONAI Label app (serving, champion/challenger after fine-tuning) and by ``ptxseg export --app``. Every
write is atomic (``ptxseg.io.atomic``), so a crash leaves either the old or the new file, never half of one.

The record names the served file's SHA-256 and is written last: it is the commit point of an install. A crash after
the new model file but before its record leaves a served file the record does not describe; the next read of the
record sees that (a changed file stamp, then the digest) and puts the previous model back, which is the one the
record describes, so the model served and its record always agree. Installs and that repair hold a lock on the
folder, since training runs in another process than the server that reads the record.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path

from ptxseg.io.atomic import atomic_write, write_text_atomically
from ptxseg.model.identity import file_digest

__all__ = ["ModelRecord", "ModelStore", "SERVED_NAME", "PREVIOUS_NAME", "RECORD_NAME"]

LOGGER = logging.getLogger(__name__)
SERVED_NAME = "pneumothorax.safetensors"
PREVIOUS_NAME = "pneumothorax.previous.safetensors"
RECORD_NAME = "pneumothorax.json"
LOCK_NAME = ".store.lock"
HISTORY_LENGTH = 50


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class ModelRecord:
    """What is known about the served model; ``version`` grows by one with every model installed.

    ``conf_model_sha256`` is the digest of the checkpoint last installed from conf ``model``: a restart with the same
    conf then leaves a model fine-tuned from it since in place (``ptxseg.serving.conf_model``).
    """

    version: int = 0
    trained: bool = False
    weights: str = "random"
    validation_dice: float | None = None
    training_images: int = 0
    source: str = ""
    updated: str = field(default_factory=_now)
    history: list[dict] = field(default_factory=list)
    served_sha256: str = ""
    served_stamp: list[int] = field(default_factory=list)
    conf_model_sha256: str = ""

    @classmethod
    def from_dict(cls, values: dict) -> ModelRecord:
        """Build from JSON, ignoring keys a newer ptxseg may have added (the record is informational)."""
        if not isinstance(values, dict):
            raise TypeError(f"a model record is a JSON object, not {type(values).__name__}")
        names = {item.name for item in fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in names})


class ModelStore:
    """A folder holding the served checkpoint, its predecessor and their record.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = (folder / "best.safetensors").write_bytes(b"weights")
        >>> store = ModelStore(folder / "model")
        >>> store.install(folder / "best.safetensors", trained=True, validation_dice=0.81).version
        1
    """

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)
        self.served_path = self.directory / SERVED_NAME
        self.previous_path = self.directory / PREVIOUS_NAME
        self.record_path = self.directory / RECORD_NAME

    def has_model(self) -> bool:
        """Whether a served checkpoint exists."""
        return self.served_path.is_file()

    def read_record(self) -> ModelRecord:
        """The record of the served file, or a fresh one when it is missing or unreadable (logged: the model file is
        what matters). Puts the previous model back when an install was cut short (see the module docstring)."""
        record = self._read_record()
        if not record.served_sha256 or not self.has_model() or record.served_stamp == self._served_stamp():
            return record  # a record from before digests, no model, or the very file the record was written for
        with self._locked():
            return self._repaired(self._read_record())

    def install(
        self,
        checkpoint: str | os.PathLike,
        *,
        trained: bool,
        weights: str = "trained",
        validation_dice: float | None = None,
        training_images: int = 0,
        source: str = "",
        outcome: dict | None = None,
        from_conf_model: bool = False,
    ) -> ModelRecord:
        """Make ``checkpoint`` the served model (the current one becomes the previous) and bump the version;
        ``from_conf_model`` records it as the one conf ``model`` named."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with self._locked():
            record = self._repaired(self._read_record())
            if self.served_path.is_file():
                self._atomic_copy(self.served_path, self.previous_path)
            record.served_sha256 = self._atomic_copy(Path(checkpoint), self.served_path)
            record.served_stamp = self._served_stamp()
            record.version += 1
            record.trained, record.weights = trained, weights
            record.validation_dice, record.training_images = validation_dice, training_images
            record.source, record.updated = source, _now()
            if from_conf_model:
                record.conf_model_sha256 = record.served_sha256
            if outcome is not None:
                record.history = [*record.history, {**outcome, "version": record.version}][-HISTORY_LENGTH:]
            self.write_record(record)
        return record

    def note_outcome(self, outcome: dict) -> ModelRecord:
        """Record a training outcome that did not change the served model (the challenger lost)."""
        with self._locked():
            record = self._repaired(self._read_record())
            record.history = [*record.history, {**outcome, "version": record.version}][-HISTORY_LENGTH:]
            self.write_record(record)
        return record

    def reject_served(self) -> Path:
        """Move an unloadable served checkpoint aside (kept for inspection, never served again)."""
        rejected = self.directory / f"pneumothorax.rejected-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}.safetensors"
        os.replace(self.served_path, rejected)
        return rejected

    def write_record(self, record: ModelRecord) -> None:
        """Write the record atomically."""
        self.directory.mkdir(parents=True, exist_ok=True)
        write_text_atomically(self.record_path, json.dumps(asdict(record), indent=2))

    def _read_record(self) -> ModelRecord:
        try:
            return ModelRecord.from_dict(json.loads(self.record_path.read_text()))
        except FileNotFoundError:
            return ModelRecord()
        except (OSError, ValueError, TypeError) as error:
            LOGGER.warning("model record %s is unreadable (%s); starting a new one", self.record_path, error)
            return ModelRecord()

    def _repaired(self, record: ModelRecord) -> ModelRecord:
        """``record``, after making the served file the one it describes where an install was cut short."""
        if not record.served_sha256 or not self.has_model() or record.served_stamp == self._served_stamp():
            return record
        if file_digest(self.served_path) == record.served_sha256:  # same bytes, another file (restored from a backup)
            record.served_stamp = self._served_stamp()
        elif self.previous_path.is_file() and file_digest(self.previous_path) == record.served_sha256:
            LOGGER.warning(
                "%s is not the model its record describes (an install was interrupted); the previous model, "
                "which it describes, is served again",
                self.served_path.name,
            )
            self._atomic_copy(self.previous_path, self.served_path)
            record.served_stamp = self._served_stamp()
        else:
            LOGGER.warning("%s was replaced outside ptxseg; its record is reset", self.served_path.name)
            record = ModelRecord(version=record.version, trained=True, weights="unknown", history=record.history)
            record.source = f"{self.served_path.name} replaced outside ptxseg (not recorded)"
            record.served_sha256, record.served_stamp = file_digest(self.served_path), self._served_stamp()
        self.write_record(record)
        return record

    def _served_stamp(self) -> list[int]:
        stat = self.served_path.stat()
        return [stat.st_ino, stat.st_size, stat.st_mtime_ns]

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / LOCK_NAME, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _atomic_copy(self, source: Path, target: Path) -> str:
        """Copy ``source`` over ``target`` atomically; returns the SHA-256 of what was copied."""
        with atomic_write(target) as temporary:
            shutil.copyfile(source, temporary)
            digest = file_digest(temporary)
        return digest
