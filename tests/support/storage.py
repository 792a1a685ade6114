"""A full disk without a mount or root: a file size limit on this process."""

from __future__ import annotations

import resource
import signal
from contextlib import contextmanager


@contextmanager
def file_size_limit(limit: int):
    """Writes past ``limit`` bytes fail with EFBIG in this process until the block ends."""
    previous = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, previous[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, previous)
        signal.signal(signal.SIGXFSZ, handler)
