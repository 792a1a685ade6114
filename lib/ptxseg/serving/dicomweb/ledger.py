"""The pre-screening ledger: what happened to each PACS instance, as an append-only JSON-lines journal.

One line per event (screened, not analysed, failed, retrying), written with one ``write`` in append mode, so a
result costs one short line however large the archive is, and a crash can tear at most the last line (skipped, with
a warning, when the journal is read back). When the journal holds more than twice as many lines as instances it is
compacted: rewritten atomically with one line per instance. A ledger of an older ptxseg (``prescreen.json``, one
object) is read once and carried over.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

from ptxseg.io.atomic import write_text_atomically

__all__ = ["JOURNAL_NAME", "Ledger"]

LOGGER = logging.getLogger(__name__)
JOURNAL_NAME = "prescreen.jsonl"
_OLD_LEDGER = "prescreen.json"
# A few hundred superseded lines are not worth a rewrite.
_COMPACT_SLACK = 256


class Ledger:
    """``sop_uid -> entry`` (a JSON object), persisted in ``folder/JOURNAL_NAME``; safe to use from several threads.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> Ledger(folder).put("1.2.3", {"status": "screened", "probability": 0.7})
        >>> Ledger(folder).get("1.2.3")["probability"]
        0.7
    """

    def __init__(self, folder: str | os.PathLike):
        self.path = Path(folder) / JOURNAL_NAME
        self._lock = threading.Lock()
        self._entries: dict[str, dict] = {}
        self._lines = 0
        self._load(Path(folder) / _OLD_LEDGER)

    def _load(self, old: Path) -> None:
        if self.path.is_file():
            for number, line in enumerate(self.path.read_text().splitlines(), 1):
                try:
                    event = json.loads(line)
                    self._entries[event.pop("sop_uid")] = event
                except (ValueError, KeyError, AttributeError):
                    LOGGER.warning("pre-screening journal line %d is torn or foreign; skipped", number)
                self._lines += 1
        elif old.is_file():
            self._entries = {uid: {"status": "screened", **entry} for uid, entry in json.loads(old.read_text()).items()}
            self._compact()
            old.unlink()

    def get(self, sop_uid: str) -> dict | None:
        """The instance's latest entry (a copy), or None."""
        with self._lock:
            entry = self._entries.get(sop_uid)
            return dict(entry) if entry is not None else None

    def put(self, sop_uid: str, entry: dict) -> None:
        """Record ``entry`` as the instance's latest (one appended line)."""
        line = json.dumps({"sop_uid": sop_uid, **entry}) + "\n"
        with self._lock:
            self._entries[sop_uid] = dict(entry)
            descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(descriptor, line.encode())
            finally:
                os.close(descriptor)
            self._lines += 1
            if self._lines > 2 * len(self._entries) + _COMPACT_SLACK:
                self._compact()

    def items(self) -> list[tuple[str, dict]]:
        """Every instance and its entry (copies, taken at once)."""
        with self._lock:
            return [(uid, dict(entry)) for uid, entry in self._entries.items()]

    def __len__(self) -> int:
        return len(self._entries)

    def size_bytes(self) -> int:
        """The journal's size on disk."""
        return self.path.stat().st_size if self.path.is_file() else 0

    def _compact(self) -> None:
        lines = "".join(json.dumps({"sop_uid": uid, **entry}) + "\n" for uid, entry in self._entries.items())
        write_text_atomically(self.path, lines)
        self._lines = len(self._entries)
