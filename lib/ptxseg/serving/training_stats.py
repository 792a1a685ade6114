"""The progress file of the running or last fine-tuning run, as MONAI Label's Slicer plugin reads it.

Written by the training process with ``atomic_write`` (a reader never sees half a file) and read by the server for
``/info``; a run whose process is gone (the server was killed mid-training) reads as failed, not as running forever.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import psutil

from ptxseg.io.atomic import write_text_atomically

__all__ = ["STATS_NAME", "TrainingStats"]

STATS_NAME = "train_stats.json"
INTERRUPTED = "interrupted: the training process is gone (server stopped or killed); served model unchanged"


class TrainingStats:
    """``train_stats.json`` in the model folder.

    Example:
        >>> import tempfile
        >>> stats = TrainingStats(Path(tempfile.mkdtemp()) / STATS_NAME)
        >>> stats.write({"status": "done", "epoch": 3})
        >>> stats.read()["epoch"]
        3
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def write(self, stats: dict) -> None:
        """Replace the file with ``stats`` and the writing process's id."""
        write_text_atomically(self.path, json.dumps({**stats, "pid": os.getpid()}, default=str))

    def read(self) -> dict:
        """The last stats written; empty before the first run; ``failed`` when a running run's process is gone."""
        try:
            stats = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        if stats.get("status") == "running" and not psutil.pid_exists(stats.get("pid", -1)):
            return {**stats, "status": "failed", "reason": INTERRUPTED}
        return stats
