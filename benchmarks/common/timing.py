"""Wall-clock timing: warm-up calls first (lazy initialisation, caches), then the median of repeats.

The median, not the mean: on a shared machine one descheduled call would otherwise dominate the result.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

__all__ = ["time_ms", "summarize"]


def time_ms(function: Callable[[], object], repeats: int, warmup: int = 1) -> list[float]:
    """Call ``function`` ``warmup`` times untimed, then ``repeats`` times timed; returns milliseconds per call.

    Example:
        >>> len(time_ms(lambda: sum(range(100)), repeats=3))
        3
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, got repeats={repeats}, warmup={warmup}")
    for _ in range(warmup):
        function()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        samples.append(1000.0 * (time.perf_counter() - started))
    return samples


def summarize(samples_ms: list[float]) -> dict[str, float]:
    """Median, 95th percentile and minimum of timing samples, in milliseconds.

    Example:
        >>> summarize([10.0, 30.0, 20.0])["median_ms"]
        20.0
    """
    if not samples_ms:
        raise ValueError("no timing samples to summarise; run at least one repeat")
    values = np.asarray(samples_ms, dtype=float)
    return {
        "median_ms": round(float(np.median(values)), 2),
        "p95_ms": round(float(np.percentile(values, 95)), 2),
        "min_ms": round(float(values.min()), 2),
        "n": len(samples_ms),
    }
