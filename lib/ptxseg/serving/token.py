"""The bearer token the server requires: from the environment, or generated for each start (as Jupyter does).

Never from the conf: the conf is a setting that is logged and shown, the token a secret. A generated token is written
to a file readable by its owner only (``TOKEN_FILE_NAME`` in the model folder) and handed to the server by that
file's path, so it appears on no command line.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from ptxseg.io.atomic import write_secret_atomically

__all__ = ["MIN_TOKEN_LENGTH", "TOKEN_FILE_NAME", "configured_token", "new_token_file", "token_id"]

MIN_TOKEN_LENGTH = 16
TOKEN_FILE_NAME = "server-token"


def configured_token(environ: Mapping[str, str] = os.environ) -> str | None:
    """The bearer token the server requires: ``PTXSEG_TOKEN``, else the content of the file ``PTXSEG_TOKEN_FILE``
    names; None when neither is set.

    A named file that is unreadable or empty, or a token shorter than ``MIN_TOKEN_LENGTH``, is an error: the server
    must never run open, or guessable, by mistake.

    Example:
        >>> configured_token({"PTXSEG_TOKEN": "correct-horse-battery-staple"})
        'correct-horse-battery-staple'
        >>> configured_token({}) is None
        True
    """
    token = environ.get("PTXSEG_TOKEN")
    token_file = environ.get("PTXSEG_TOKEN_FILE")
    if not token and token_file:
        try:
            token = Path(token_file).read_text().strip()
        except OSError as error:
            raise ValueError(f"PTXSEG_TOKEN_FILE={token_file} cannot be read: {error.strerror}") from error
        if not token:
            raise ValueError(f"PTXSEG_TOKEN_FILE={token_file} is empty: the server would run without a token")
    if token and len(token) < MIN_TOKEN_LENGTH:
        raise ValueError(
            f"the bearer token has {len(token)} characters; use at least {MIN_TOKEN_LENGTH}, "
            "e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return token or None


def new_token_file(folder: Path) -> tuple[str, Path]:
    """A fresh random token, written 0600 to ``folder/TOKEN_FILE_NAME`` (replacing the last start's).

    Example:
        >>> import tempfile
        >>> token, path = new_token_file(Path(tempfile.mkdtemp()))
        >>> len(token) >= MIN_TOKEN_LENGTH, oct(path.stat().st_mode & 0o777), path.read_text() == token
        (True, '0o600', True)
    """
    token = secrets.token_urlsafe(32)
    return token, write_secret_atomically(Path(folder) / TOKEN_FILE_NAME, token)


def token_id(token: str | None) -> str:
    """How logs and the access audit name a token without revealing it: a short hash, or ``no-token``.

    Example:
        >>> token_id("correct-horse-battery-staple"), token_id(None)
        ('token:87cbebfe', 'no-token')
    """
    return f"token:{hashlib.sha256(token.encode()).hexdigest()[:8]}" if token else "no-token"
