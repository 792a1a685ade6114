"""The radiologists' verdicts on the AI result of each image: one JSON line each, appended, the last one counts."""

from __future__ import annotations

import json
import logging
import os
import threading
from datetime import datetime, timezone
from pathlib import Path

__all__ = ["VERDICTS", "VerdictStore"]

LOGGER = logging.getLogger(__name__)
VERDICTS = ("agree", "disagree", "corrected")
VERDICTS_NAME = "verdicts.jsonl"


class VerdictStore:
    """The verdicts of one server, in ``<folder>/verdicts.jsonl``.

    Example:
        >>> import tempfile
        >>> store = VerdictStore(tempfile.mkdtemp())
        >>> _ = store.record("1.2.3", "agree")
        >>> _ = store.record("1.2.3", "corrected")
        >>> store.latest()["1.2.3"]["verdict"]
        'corrected'
        >>> store.record("1.2.3", "maybe")
        Traceback (most recent call last):
        ...
        ValueError: verdict must be one of agree, disagree, corrected; got 'maybe'
    """

    def __init__(self, folder: str | os.PathLike):
        self.path = Path(folder) / VERDICTS_NAME
        self._lock = threading.Lock()

    def record(self, image: str, verdict: str) -> dict:
        """Append ``verdict`` on ``image``'s AI result, with the time; returns the record."""
        if verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {', '.join(VERDICTS)}; got {verdict!r}")
        if not isinstance(image, str) or not image:
            raise ValueError("image must be the image's id, as the worklist lists it")
        record = {"image": image, "verdict": verdict, "time": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        line = (json.dumps(record) + "\n").encode()
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(descriptor, line)
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
        return record

    def latest(self) -> dict[str, dict]:
        """Each image's last verdict; a line cut short by a crash is skipped with a warning."""
        if not self.path.exists():
            return {}
        latest = {}
        for number, line in enumerate(self.path.read_text().splitlines(), 1):
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                LOGGER.warning("skipped the unreadable line %d of %s", number, self.path)
                continue
            latest[record["image"]] = record
        return latest
