"""Fine-tuning progress read from MONAI Label's ``GET /train/`` task record.

The record is ``{"id", "status", "request", "start_ts", "end_ts", "details": [last log lines]}``; the epoch
comes from MONAI's StatsHandler lines (``Epoch: 2/5, Iter: 3/8 -- ...``) and the champion/challenger outcome
from a ``ptxseg_result`` object, either a key of the record or JSON inside a log line. Anything missing
degrades to "unknown", never to an error: the GUI polls this every few seconds.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from .values import finite_or_none, mapping_or_empty

__all__ = ["PollBackoff", "TrainingProgress"]

_STATES = {"SUBMITTED": "submitted", "RUNNING": "running", "DONE": "done", "ERROR": "error", "STOPPED": "stopped"}
_EPOCH_LINE = re.compile(r"Epoch:\s*(\d+)\s*/\s*(\d+)(?:\s*,\s*Iter:\s*(\d+)\s*/\s*(\d+))?")
_RESULT_KEY = "ptxseg_result"


@dataclass(frozen=True)
class TrainingProgress:
    """Where fine-tuning stands.

    Attributes:
        state: ``idle`` (no task yet), ``submitted``, ``running``, ``done``, ``error``, ``stopped``, ``unknown``,
            or ``unreachable`` (the last polls failed: the server may still be training; polling goes on).
        task_id: the server's task id.
        epoch, max_epochs: the last epoch seen in the log and the planned count (from the log or the request).
        fraction: progress in [0, 1] when it can be told, else None (show a busy indicator).
        message: the last log line.
        result: the ``ptxseg_result`` object (champion/challenger outcome) once reported.
    """

    state: str = "idle"
    task_id: str | None = None
    epoch: int | None = None
    max_epochs: int | None = None
    fraction: float | None = None
    message: str = ""
    result: dict | None = None

    @property
    def running(self) -> bool:
        """The task is queued or training now."""
        return self.state in ("submitted", "running")

    @property
    def finished(self) -> bool:
        """The task ended: done, failed or stopped."""
        return self.state in ("done", "error", "stopped")

    @classmethod
    def from_status(cls, status: dict | None) -> TrainingProgress:
        """Read a ``GET /train/`` answer (None when the server has no training task).

        Example:
            >>> status = {"id": "t1", "status": "RUNNING", "request": {"max_epochs": 4},
            ...           "details": ["... - Epoch: 2/4, Iter: 1/2 -- train_loss: 0.41"]}
            >>> progress = TrainingProgress.from_status(status)
            >>> progress.state, progress.epoch, progress.max_epochs, progress.fraction
            ('running', 2, 4, 0.375)
        """
        if not status:
            return cls()
        status = mapping_or_empty(status)
        state = _STATES.get(str(status.get("status", "")).upper(), "unknown")
        lines = _detail_lines(status.get("details"))
        epoch, max_epochs, fraction = _epoch_progress(lines, mapping_or_empty(status.get("request")))
        task_id = status.get("id")
        return cls(
            state=state,
            task_id=None if task_id is None else str(task_id),
            epoch=epoch,
            max_epochs=max_epochs,
            fraction=1.0 if state == "done" else fraction,
            message=lines[-1] if lines else "",
            result=_result(status, lines),
        )

    @classmethod
    def unreachable(cls, last: TrainingProgress, error: str, retry_in_s: float) -> TrainingProgress:
        """What the panel knows when a poll failed: the last progress seen, and that contact is lost.

        Example:
            >>> last = TrainingProgress("running", epoch=2, max_epochs=4)
            >>> TrainingProgress.unreachable(last, "timed out", 8).describe()
            'Fine-tuning: no answer from the server (timed out); last seen running, epoch 2/4; retrying in 8 s'
        """
        seen = last.describe().replace("Fine-tuning: ", "") if last.state != "idle" else "nothing yet"
        message = f"no answer from the server ({error}); last seen {seen}; retrying in {retry_in_s:g} s"
        return cls("unreachable", last.task_id, last.epoch, last.max_epochs, None, message, None)

    def describe(self) -> str:
        """One line for the status area.

        Example:
            >>> TrainingProgress("running", epoch=2, max_epochs=4).describe()
            'Fine-tuning: running, epoch 2/4'
            >>> TrainingProgress("done", result={"promoted": True, "challenger_dice": 0.8}).describe()
            'Fine-tuning: done; new model promoted (challenger_dice 0.8)'
        """
        if self.state == "unreachable":
            return f"Fine-tuning: {self.message}"
        text = f"Fine-tuning: {self.state}"
        if self.epoch is not None:
            text += f", epoch {self.epoch}/{self.max_epochs or '?'}"
        if self.result is not None:
            text += f"; {_describe_result(self.result)}"
        elif self.state == "error" and self.message:
            text += f": {self.message}"
        return text


def _detail_lines(details) -> list[str]:
    if isinstance(details, (list, tuple)):
        return [str(line) for line in details]
    if isinstance(details, str):
        return details.splitlines()
    return []


def _epoch_progress(lines: list[str], request: dict) -> tuple[int | None, int | None, float | None]:
    requested = request.get("max_epochs")
    max_epochs = requested if isinstance(requested, int) and not isinstance(requested, bool) else None
    for line in reversed(lines):
        match = _EPOCH_LINE.search(line)
        if match:
            epoch, epochs = int(match.group(1)), int(match.group(2))
            done_in_epoch = 1.0
            if match.group(3) and int(match.group(4)) > 0:
                done_in_epoch = int(match.group(3)) / int(match.group(4))
            fraction = min(1.0, max(0.0, (epoch - 1 + done_in_epoch) / epochs)) if epochs > 0 else None
            return epoch, epochs, fraction
    return None, max_epochs, None


def _result(status: dict, lines: list[str]) -> dict | None:
    for container in (status, mapping_or_empty(status.get("details"))):
        if isinstance(container.get(_RESULT_KEY), dict):
            return container[_RESULT_KEY]
    decoder = json.JSONDecoder()
    for line in reversed(lines):
        position = line.find(_RESULT_KEY)
        brace = line.find("{", position) if position >= 0 else -1
        if brace < 0:
            continue
        try:
            value, _ = decoder.raw_decode(line, brace)
        except ValueError:
            continue
        if isinstance(value, dict):
            return mapping_or_empty(value.get(_RESULT_KEY)) or value
    return None


def _describe_result(result: dict) -> str:
    promoted = result.get("promoted")
    head = {True: "new model promoted", False: "new model not better: current model kept"}.get(promoted, "result")
    numbers = [f"{key} {finite_or_none(value):g}" for key, value in result.items() if finite_or_none(value) is not None]
    return f"{head} ({', '.join(numbers)})" if numbers else head


@dataclass
class PollBackoff:
    """When to poll next: every ``interval_s`` while the server answers, doubling up to ``max_interval_s`` after
    each failure in a row, so one slow answer (a 30 s timeout while the server trains on CPU) never ends the
    tracking and a server that is down is not hammered.

    Example:
        >>> backoff = PollBackoff(interval_s=2, max_interval_s=30)
        >>> [backoff.failed() for _ in range(5)]
        [4, 8, 16, 30, 30]
        >>> backoff.succeeded()
        2
    """

    interval_s: float = 2.0
    max_interval_s: float = 60.0
    failures: int = 0

    def failed(self) -> float:
        """Record a failed poll; seconds until the next try."""
        self.failures += 1
        return self.delay_s

    def succeeded(self) -> float:
        """Record an answer; seconds until the next poll."""
        self.failures = 0
        return self.delay_s

    @property
    def delay_s(self) -> float:
        """Seconds until the next poll."""
        return min(self.max_interval_s, self.interval_s * 2**self.failures)
