"""Network calls off Slicer's GUI thread: a call runs in a worker thread; the GUI asks whether it is done.

Slicer's widgets, MRML and VTK must only be touched from the GUI thread, so the worker runs only the HTTP
call; a QTimer in the widget polls ``done`` and hands the result to the Logic there. Cancel cannot abort a
socket read in progress, so it abandons the call: its result is dropped when it arrives.
"""

from __future__ import annotations

import threading

__all__ = ["BackgroundCall", "Cancelled"]


class Cancelled(Exception):
    """The annotator cancelled the call."""


class BackgroundCall:
    """Run ``function(*args)`` in a daemon thread.

    Example:
        >>> call = BackgroundCall(sum, [1, 2, 3])
        >>> call.wait(5)
        True
        >>> call.result()
        6
    """

    def __init__(self, function, *args, **kwargs):
        self._finished = threading.Event()
        self._cancelled = False
        self._value = None
        self._error = None
        self._thread = threading.Thread(target=self._run, args=(function, args, kwargs), daemon=True)
        self._thread.start()

    def _run(self, function, args, kwargs) -> None:
        try:
            self._value = function(*args, **kwargs)
        except BaseException as error:  # handed to the GUI thread, which shows it
            self._error = error
        finally:
            self._finished.set()

    @property
    def done(self) -> bool:
        """The call finished, failed or was cancelled: ``result()`` returns or raises at once."""
        return self._cancelled or self._finished.is_set()

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until done (for tests and scripts, never in the GUI); True when done."""
        return self._cancelled or self._finished.wait(timeout_s)

    def cancel(self) -> None:
        """Give up on the call; ``result()`` raises Cancelled from now on."""
        self._cancelled = True

    def result(self):
        """The function's return value, or its exception raised here.

        Raises:
            Cancelled: the call was cancelled. RuntimeError: it has not finished yet.
        """
        if self._cancelled:
            raise Cancelled("cancelled")
        if not self._finished.is_set():
            raise RuntimeError("the call is still running; check done first")
        if self._error is not None:
            raise self._error
        return self._value
