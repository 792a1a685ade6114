"""The bearer token the server requires, from the environment (never from the conf: it is no setting to log)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["MIN_TOKEN_LENGTH", "configured_token"]

MIN_TOKEN_LENGTH = 16


def configured_token(environ: Mapping[str, str] = os.environ) -> str | None:
    """The bearer token the server requires: ``PTXSEG_TOKEN``, else the content of the file ``PTXSEG_TOKEN_FILE``
    names; None when neither is set (no token: keep the server on 127.0.0.1).

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
