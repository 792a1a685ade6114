"""The server's process tree lives and dies with ``ptxseg serve``, however either of them ends.

``ptxseg serve`` runs ``python -m ptxseg.serving.supervisor -- <server command>`` in a session of its own. The
supervisor is a small init for the server's tree:

- the kernel sends it SIGTERM when ``ptxseg serve`` dies, even by SIGKILL or the OOM killer (Linux
  ``PR_SET_PDEATHSIG``, set between fork and exec, checked against a parent that died in between);
- it is a child subreaper (``PR_SET_CHILD_SUBREAPER``), so the training and scoring subprocesses MONAI Label starts
  (``monailabel.utils.async_tasks.utils``, from a worker thread, with a plain ``Popen``) and their own children
  (torchrun workers start sessions of their own) stay in its tree when the server dies before them;
- when the server ends, or it is told to stop, it stops every process of that tree: SIGTERM, a grace period, SIGKILL.

A parent-death signal in MONAI Label's own ``Popen`` is out of reach without forking MONAI Label, and would fire when
the worker thread that started the child ends, not when the server does: hence one supervisor above the whole tree.
The server itself also gets SIGKILL should the supervisor die, so the port is never left answering.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

import psutil

__all__ = ["GRACE_SECONDS", "die_with_parent", "stop_tree", "supervise", "supervised"]

GRACE_SECONDS = 10.0
_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_LIBC = ctypes.CDLL(None, use_errno=True)
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def _prctl(option: int, value: int) -> None:
    if _LIBC.prctl(option, value, 0, 0, 0) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"prctl({option}, {value}) failed: {os.strerror(error)}")


def die_with_parent(signum: int) -> Callable[[], None]:
    """A ``preexec_fn`` for ``Popen``: the child gets ``signum`` when the calling process ends, however it ends.

    Call it in the thread that lives as long as the process (the kernel signals when the forking *thread* ends).

    Example:
        >>> child = subprocess.Popen(["true"], preexec_fn=die_with_parent(signal.SIGKILL))
        >>> child.wait()
        0
    """
    parent = os.getpid()

    def preexec() -> None:
        _prctl(_PR_SET_PDEATHSIG, signum)
        if os.getppid() != parent:  # the parent died before the request: no signal would ever come
            os._exit(128 + signum)

    return preexec


def supervised(command: Sequence[str]) -> list[str]:
    """``command`` run under the supervisor (start it with ``preexec_fn=die_with_parent(signal.SIGTERM)``).

    Example:
        >>> supervised(["monailabel", "start_server"])[1:4]
        ['-m', 'ptxseg.serving.supervisor', '--']
    """
    return [sys.executable, "-m", "ptxseg.serving.supervisor", "--", *command]


class _StopRequested(Exception):
    """A stop signal arrived; raised in the main thread so that ``Popen.wait`` ends before the tree is stopped."""


def _raise_stop(signum, frame):
    raise _StopRequested(signum)


def supervise(command: Sequence[str], grace_seconds: float = GRACE_SECONDS) -> int:
    """Run ``command`` until it ends or a stop signal comes, then stop every process below this one.

    Returns:
        The server's exit status, or 128 + the signal that stopped it.
    """
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)
    for signum in _STOP_SIGNALS:
        signal.signal(signum, _raise_stop)
    server = subprocess.Popen(list(command), preexec_fn=die_with_parent(signal.SIGKILL))
    try:
        status = server.wait()
        status = 128 - status if status < 0 else status  # killed by a signal: as a shell reports it
    except _StopRequested as stop:
        status = 128 + stop.args[0]
    finally:
        for signum in _STOP_SIGNALS:  # a second signal must not cut the stopping short
            signal.signal(signum, signal.SIG_IGN)
        stop_tree(grace_seconds)
    return status


def stop_tree(grace_seconds: float = GRACE_SECONDS) -> None:
    """SIGTERM every descendant of this process, SIGKILL those left after ``grace_seconds``, and reap them all."""
    _signal_descendants(signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    while _reap() and time.monotonic() < deadline:
        time.sleep(0.05)
    _signal_descendants(signal.SIGKILL)
    while _reap():  # nothing survives SIGKILL: wait for the kernel to deliver it
        time.sleep(0.05)


def _signal_descendants(signum: int) -> None:
    for process in psutil.Process().children(recursive=True):
        try:
            process.send_signal(signum)
        except psutil.NoSuchProcess:
            pass


def _reap() -> bool:
    """Collect every ended child (orphans of the server are ours, as subreaper); whether any still runs."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return False
        if pid == 0:
            return True


if __name__ == "__main__":
    if sys.argv[1:2] != ["--"] or len(sys.argv) < 3:
        sys.exit("usage: python -m ptxseg.serving.supervisor -- COMMAND [ARGUMENT ...]")
    sys.exit(supervise(sys.argv[2:]))
