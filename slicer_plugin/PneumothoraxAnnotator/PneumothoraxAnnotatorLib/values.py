"""Lenient readers for values in server JSON: a malformed field becomes "unknown", never a crash in the GUI."""

from __future__ import annotations

import math

__all__ = ["finite_or_none", "mapping_or_empty"]


def finite_or_none(value) -> float | None:
    """``value`` as a float when it is a finite JSON number (not a bool), else None.

    Example:
        >>> finite_or_none(3), finite_or_none("0.5"), finite_or_none(float("nan")), finite_or_none(True)
        (3.0, None, None, None)
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def mapping_or_empty(value) -> dict:
    """``value`` when it is a JSON object, else an empty dict.

    Example:
        >>> mapping_or_empty({"a": 1}), mapping_or_empty(None), mapping_or_empty([1])
        ({'a': 1}, {}, {})
    """
    return value if isinstance(value, dict) else {}
