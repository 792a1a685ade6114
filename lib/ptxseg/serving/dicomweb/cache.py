"""Images fetched from the PACS once and kept on disk, the folder bounded in bytes, safe under concurrent requests.

Each instance is fetched under its own file lock (threads of the server and training or scoring subprocesses
share the folder), written atomically, and found by later requests without asking the PACS again. Above the bound
the least recently used files go, except those used within ``grace_s`` seconds: a request that has just been
given a path can still open it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock

from ptxseg.io.atomic import TEMPORARY_PREFIX, atomic_write

__all__ = ["InstanceCache"]

SUFFIX = ".dcm"


class InstanceCache:
    """A folder of ``<SOP Instance UID>.dcm`` files of at most about ``max_bytes``.

    Example:
        >>> import tempfile
        >>> cache = InstanceCache(tempfile.mkdtemp(), max_bytes=10_000)
        >>> path = cache.get("1.2.3", lambda: b"DICOM bytes")
        >>> path.name, cache.get("1.2.3", lambda: b"never fetched again").read_bytes()
        ('1.2.3.dcm', b'DICOM bytes')
    """

    def __init__(self, folder: str | os.PathLike, max_bytes: int, grace_s: float = 300.0):
        if max_bytes < 1:
            raise ValueError(f"the image cache needs a positive size in bytes, got {max_bytes}")
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / ".locks").mkdir(exist_ok=True)
        self.max_bytes = max_bytes
        self.grace_s = grace_s

    def path(self, sop_uid: str) -> Path:
        """Where the instance is (or would be) cached; the UID was checked to be a safe file name by the caller."""
        return self.folder / f"{sop_uid}{SUFFIX}"

    def get(self, sop_uid: str, fetch: Callable[[], bytes]) -> Path:
        """The cached file of ``sop_uid``, calling ``fetch()`` for its bytes only when it is not cached."""
        path = self.path(sop_uid)
        with FileLock(self.folder / ".locks" / f"{sop_uid}.lock"):
            if path.is_file():
                os.utime(path)  # "recently used" for the eviction order
                return path
            data = fetch()
            with atomic_write(path) as temporary:
                temporary.write_bytes(data)
        self._evict(keep=path)
        return path

    def size_bytes(self) -> int:
        """Bytes the cached images take."""
        return sum(entry.stat().st_size for entry in self._entries())

    def _entries(self) -> list[Path]:
        return [p for p in self.folder.glob(f"*{SUFFIX}") if not p.name.startswith(TEMPORARY_PREFIX)]

    def _evict(self, keep: Path) -> None:
        with FileLock(self.folder / ".locks" / "evict.lock"):
            entries = []
            for entry in self._entries():
                try:
                    entries.append((entry.stat().st_mtime, entry.stat().st_size, entry))
                except FileNotFoundError:  # evicted by another process meanwhile
                    continue
            total = sum(size for _, size, _ in entries)
            recent = time.time() - self.grace_s
            for mtime, size, entry in sorted(entries):
                if total <= self.max_bytes:
                    break
                if entry == keep or mtime > recent:
                    continue
                entry.unlink(missing_ok=True)
                total -= size
