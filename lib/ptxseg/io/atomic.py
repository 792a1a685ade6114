"""The one atomic file write every writer uses: a crash leaves the old file or the new one, never half of one.

The content goes to a temporary file in the target's own folder (so the final ``os.replace`` is a rename on one
file system), which keeps the target's full name as its tail: libraries that choose the format from the suffix
(SimpleITK, PIL, safetensors, torch) write the right format to it. A failed write removes the temporary file.
"""

from __future__ import annotations

import errno
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = [
    "STORAGE_FULL",
    "TEMPORARY_PREFIX",
    "atomic_write",
    "storage_full",
    "write_secret_atomically",
    "write_text_atomically",
]

# Every temporary file starts with this, so a crash's leftovers are recognisable (and hidden).
TEMPORARY_PREFIX = ".tmp-"
# The errors of a write that found no room: disk full, quota exceeded, file size limit (RLIMIT_FSIZE).
STORAGE_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def storage_full(error: BaseException) -> bool:
    """Whether ``error`` says the storage had no room for a write (see ``STORAGE_FULL``).

    Example:
        >>> storage_full(OSError(errno.ENOSPC, "No space left on device")), storage_full(FileNotFoundError())
        (True, False)
    """
    return isinstance(error, OSError) and error.errno in STORAGE_FULL


@contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path`` atomically, on failure it is removed.

    Example:
        >>> import tempfile
        >>> target = Path(tempfile.mkdtemp()) / "label.nrrd"
        >>> with atomic_write(target) as temporary:
        ...     _ = temporary.write_text("content")
        ...     temporary.name.endswith(".label.nrrd"), target.exists()
        (True, False)
        >>> target.read_text()
        'content'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{TEMPORARY_PREFIX}{uuid.uuid4().hex[:12]}.{path.name}")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_text_atomically(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` with :func:`atomic_write`; returns the path.

    Example:
        >>> import tempfile
        >>> write_text_atomically(Path(tempfile.mkdtemp()) / "record.json", "{}").read_text()
        '{}'
    """
    with atomic_write(path) as temporary:
        temporary.write_text(text)
    return Path(path)


def write_secret_atomically(path: str | os.PathLike, text: str) -> Path:
    """Write a secret (a token, a re-identification key) readable by its owner only: the temporary file is created
    with mode 0600 before any byte is written, so the secret is never readable by others, not even for a moment.

    Example:
        >>> import tempfile
        >>> secret = write_secret_atomically(Path(tempfile.mkdtemp()) / "token", "s3cret")
        >>> oct(secret.stat().st_mode & 0o777), secret.read_text()
        ('0o600', 's3cret')
    """
    with atomic_write(path) as temporary:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as stream:
            stream.write(text)
    return Path(path)
