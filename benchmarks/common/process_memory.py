"""Memory of a process and all its descendants: RSS (cheap, counts shared pages once per process) and PSS (shared
pages split between their users, so the sum is what the tree really holds; slower to read), with a peak sampler.

The two differ most for forked children: a fork of a 1.3 GB server shows 1 GB of RSS that is all shared.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import psutil

__all__ = ["tree_rss_bytes", "tree_rss_by_process", "tree_pss_bytes", "tree_memory_by_process", "PeakMemory"]


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _pss(process: psutil.Process) -> int:
    memory = process.memory_full_info()
    return getattr(memory, "pss", memory.uss)  # PSS is Linux-only; USS is the closest elsewhere


def _tree_sum(pid: int, measure: Callable[[psutil.Process], int]) -> int:
    total = 0
    for process in _tree(pid):
        try:
            total += measure(process)
        except psutil.NoSuchProcess:  # a child that exited between listing and reading
            continue
    return total


def tree_rss_bytes(pid: int) -> int:
    """Resident set size of ``pid`` plus every descendant (shared pages counted per process: an upper bound).

    Example:
        >>> tree_rss_bytes(os.getpid()) > 0  # doctest: +SKIP
        True
    """
    return _tree_sum(pid, lambda process: process.memory_info().rss)


def _command(process: psutil.Process) -> str:
    return " ".join(part.rsplit("/", 1)[-1] for part in process.cmdline()[:4])


def tree_rss_by_process(pid: int) -> dict[str, int]:
    """RSS of each process of the tree, keyed ``"<pid> <short command>"``: which process makes a peak.

    Example:
        >>> sum(tree_rss_by_process(os.getpid()).values()) > 0  # doctest: +SKIP
        True
    """
    sizes = {}
    for process in _tree(pid):
        try:
            sizes[f"{process.pid} {_command(process)}"] = process.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return sizes


def tree_pss_bytes(pid: int) -> int:
    """Proportional set size of ``pid`` plus every descendant: shared pages counted once in the sum.

    Reading PSS walks each process's page tables (~20 ms for a 1 GB process): sample it sparingly.

    Example:
        >>> tree_pss_bytes(os.getpid()) <= tree_rss_bytes(os.getpid())  # doctest: +SKIP
        True
    """
    return _tree_sum(pid, _pss)


def tree_memory_by_process(pid: int) -> list[dict]:
    """RSS and PSS per process of the tree, in MB, with a short command line.

    Example:
        >>> tree_memory_by_process(os.getpid())[0]["command"]  # doctest: +SKIP
        'python -m pytest'
    """
    rows = []
    for process in _tree(pid):
        try:
            rss, pss = process.memory_info().rss, _pss(process)
            command = _command(process)
        except psutil.NoSuchProcess:
            continue
        rows.append({"pid": process.pid, "command": command, "rss_mb": round(rss / 1e6), "pss_mb": round(pss / 1e6)})
    return rows


class PeakMemory:
    """Sample ``measure(pid)`` every ``interval_s`` until stopped; ``peak_bytes`` is the largest sample.

    ``measure`` returns bytes, or bytes by process (``tree_rss_by_process``): then the sum is what peaks, and
    ``peak_sample`` keeps the processes of the peak.

    Example:
        >>> with PeakMemory(server_pid, tree_pss_bytes, interval_s=0.2) as memory:  # doctest: +SKIP
        ...     run_requests()
        >>> memory.peak_bytes  # doctest: +SKIP
    """

    def __init__(
        self, pid: int, measure: Callable[[int], int | dict[str, int]] = tree_rss_bytes, interval_s: float = 0.05
    ):
        self.pid = pid
        self.measure = measure
        self.interval_s = interval_s
        self.peak_bytes = 0
        self.peak_sample: int | dict[str, int] = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            sample = self.measure(self.pid)
            total = sum(sample.values()) if isinstance(sample, dict) else sample
            if total > self.peak_bytes:
                self.peak_bytes, self.peak_sample = total, sample
            self._stop.wait(self.interval_s)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()
