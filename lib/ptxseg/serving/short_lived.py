"""Run one preparation step of ``ptxseg serve`` in a short-lived forked process.

``ptxseg serve`` stays alive as long as the server does, so whatever it imports stays resident beside it: making
the demo studies imports numpy, SciPy, SimpleITK and pydicom (158 MB RSS against 18 MB without, measured), checking
the conf imports torch and MONAI (about 1 GB). Done in a forked child, the parent never imports them.
"""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

__all__ = ["in_short_lived_process"]

Result = TypeVar("Result")


def in_short_lived_process(function: Callable[..., Result], *args) -> Result:
    """``function(*args)`` in a forked child that ends with it; its result, or its exception raised here.

    The child is forked (not spawned), so ``function`` may be any function of an imported module; call this before
    the parent starts threads. What the child prints goes to the parent's terminal.

    Example:
        >>> import math
        >>> in_short_lived_process(math.sqrt, 81.0)
        9.0
        >>> in_short_lived_process(math.sqrt, -1.0)
        Traceback (most recent call last):
        ValueError: math domain error
    """
    sys.stdout.flush()  # else the child inherits this process's unwritten output and writes it a second time
    sys.stderr.flush()
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as child:
        return child.submit(function, *args).result()
