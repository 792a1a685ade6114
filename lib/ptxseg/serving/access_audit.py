"""The access audit: one JSON line per request, saying who read or wrote which study, with no PHI in it.

A hospital must be able to answer "who looked at this patient's image, and when". Each line holds the time, the
client (the token's short hash, ``ptxseg.serving.token.token_id``, and the client address), the method, the path,
the answer's status and the studies it named. Study ids (image ids, SOP Instance UIDs, file names) can identify a
patient, so they are written as keyed hashes (HMAC-SHA256 with a secret key kept 0600 beside the log): an auditor
who knows an id finds its lines with :func:`study_hash`; a reader of the log alone learns nothing. Path segments
that are not plain words (UIDs in ``/proxy/dicom/studies/<uid>``) are hashed the same way.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import threading
import time
from pathlib import Path
from urllib.parse import parse_qsl

from ptxseg.io.atomic import write_secret_atomically

__all__ = ["AUDIT_LOG_NAME", "AccessAudit", "audit_key", "study_hash"]

AUDIT_LOG_NAME = "access-audit.jsonl"
KEY_NAME = "access-audit.key"
# Query parameters that name a study or a label of one.
STUDY_PARAMETERS = ("image", "label", "id")
_WORD = re.compile(r"[a-z][a-z_-]*")


def audit_key(folder: Path) -> bytes:
    """The log's hashing key: read from ``folder``, or made (0600) on first use, so hashes stay comparable across
    restarts.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> audit_key(folder) == audit_key(folder), oct((folder / KEY_NAME).stat().st_mode & 0o777)
        (True, '0o600')
    """
    path = Path(folder) / KEY_NAME
    if not path.is_file():
        write_secret_atomically(path, secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())


def study_hash(key: bytes, study_id: str) -> str:
    """A study id as the audit writes it.

    Example:
        >>> study_hash(b"key", "1.2.840.113619.2.55")
        '415cb0587da8a3f1'
    """
    return hmac.new(key, study_id.encode(), hashlib.sha256).hexdigest()[:16]


class AccessAudit:
    """ASGI middleware appending one line per HTTP request to ``folder/AUDIT_LOG_NAME`` (append-only, a line per
    write, so concurrent requests never interleave within a line)."""

    def __init__(self, application, folder: Path, client_of):
        self.application = application
        self.path = Path(folder) / AUDIT_LOG_NAME
        self.key = audit_key(folder)
        self.client_of = client_of  # headers -> the client's name (token id), set by the bearer-token check
        self._lock = threading.Lock()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] == "OPTIONS":
            return await self.application(scope, receive, send)
        status = 500  # what the client sees when the application fails before answering

        async def recording_send(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.application(scope, receive, recording_send)
        finally:
            self._write(scope, status)

    def _segment(self, part: str) -> str:
        return part if not part or _WORD.fullmatch(part) else study_hash(self.key, part)

    def _write(self, scope, status: int) -> None:
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        studies = [study_hash(self.key, value) for name, value in query if name in STUDY_PARAMETERS and value]
        segments = [self._segment(part) for part in scope["path"].split("/")]
        client = scope.get("client") or ("", 0)
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "client": self.client_of(scope),
            "address": client[0],
            "method": scope["method"],
            "path": "/".join(segments),
            "status": status,
            "studies": studies,
        }
        line = json.dumps(entry) + "\n"
        with self._lock:
            descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(descriptor, line.encode())
            finally:
                os.close(descriptor)
