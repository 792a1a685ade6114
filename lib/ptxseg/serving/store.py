"""The served model's folder: the checkpoint in use, the one before it, and a record of how each got there.

Used by the MONAI Label app (serving, champion/challenger after fine-tuning) and by ``ptxseg export --app``. Every
write is a temp file plus ``os.replace``, so a crash leaves either the old or the new model, never half of one.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path

__all__ = ["ModelRecord", "ModelStore", "SERVED_NAME", "PREVIOUS_NAME", "RECORD_NAME"]

LOGGER = logging.getLogger(__name__)
SERVED_NAME = "pneumothorax.safetensors"
PREVIOUS_NAME = "pneumothorax.previous.safetensors"
RECORD_NAME = "pneumothorax.json"
HISTORY_LENGTH = 50


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class ModelRecord:
    """What is known about the served model; ``version`` grows by one with every model installed."""

    version: int = 0
    trained: bool = False
    weights: str = "random"
    validation_dice: float | None = None
    training_images: int = 0
    source: str = ""
    updated: str = field(default_factory=_now)
    history: list[dict] = field(default_factory=list)

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
        """The record, or a fresh one when it is missing or unreadable (logged: the model file is what matters)."""
        try:
            return ModelRecord.from_dict(json.loads(self.record_path.read_text()))
        except FileNotFoundError:
            return ModelRecord()
        except (OSError, ValueError, TypeError) as error:
            LOGGER.warning("model record %s is unreadable (%s); starting a new one", self.record_path, error)
            return ModelRecord()

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
    ) -> ModelRecord:
        """Make ``checkpoint`` the served model (the current one becomes the previous) and bump the version."""
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.served_path.is_file():
            self._atomic_copy(self.served_path, self.previous_path)
        self._atomic_copy(Path(checkpoint), self.served_path)
        record = self.read_record()
        record.version += 1
        record.trained, record.weights = trained, weights
        record.validation_dice, record.training_images = validation_dice, training_images
        record.source, record.updated = source, _now()
        if outcome is not None:
            record.history = [*record.history, {**outcome, "version": record.version}][-HISTORY_LENGTH:]
        self.write_record(record)
        return record

    def note_outcome(self, outcome: dict) -> ModelRecord:
        """Record a training outcome that did not change the served model (the challenger lost)."""
        record = self.read_record()
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
        handle, temporary = tempfile.mkstemp(prefix=".record-", dir=self.directory)
        with os.fdopen(handle, "w") as stream:
            json.dump(asdict(record), stream, indent=2)
        os.replace(temporary, self.record_path)

    def _atomic_copy(self, source: Path, target: Path) -> None:
        handle, temporary = tempfile.mkstemp(prefix=".model-", suffix=target.suffix, dir=self.directory)
        os.close(handle)
        try:
            shutil.copyfile(source, temporary)
            os.replace(temporary, target)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
