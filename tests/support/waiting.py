"""Waiting in tests for something a server or a background thread does, with a deadline that names what failed."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

Value = TypeVar("Value")


def wait_for(condition: Callable[[], Value], timeout_s: float, what: str, poll_s: float = 0.2) -> Value:
    """Poll ``condition`` until it returns something truthy and return that; fail with ``what`` past the deadline."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(poll_s)
    raise AssertionError(f"{what} within {timeout_s} s")
