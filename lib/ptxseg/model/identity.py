"""A checkpoint's identity: the digest of its bytes, so "the same model version" means the same weights anywhere."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

__all__ = ["checkpoint_digest", "file_digest"]


def checkpoint_digest(path: str | os.PathLike, length: int = 16) -> str:
    """``sha256:<first length hex digits>`` of the file: stable across copies, renames and restarts.

    Example:
        >>> import tempfile
        >>> file = Path(tempfile.mkdtemp()) / "model.safetensors"
        >>> _ = file.write_bytes(b"weights")
        >>> checkpoint_digest(file)
        'sha256:9a129038d9a00aed'
    """
    return f"sha256:{file_digest(path)[:length]}"


def file_digest(path: str | os.PathLike) -> str:
    """SHA-256 of a file's content (hex), read in 1 MB blocks: what a model file is recognised by, so a changed
    checkpoint is noticed even when its size and name stay the same.

    Example:
        >>> import tempfile
        >>> file = Path(tempfile.mkdtemp()) / "model.safetensors"
        >>> _ = file.write_bytes(b"weights")
        >>> file_digest(file)[:16]
        '9a129038d9a00aed'
    """
    digest = hashlib.sha256()
    with Path(path).open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
