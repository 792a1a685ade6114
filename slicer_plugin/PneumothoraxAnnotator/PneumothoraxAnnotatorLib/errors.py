"""Typed failures of the ptxseg server client, each carrying the HTTP status and the server's own message."""

from __future__ import annotations

__all__ = [
    "ClientError",
    "NotFound",
    "ProtocolError",
    "ServerBusy",
    "ServerError",
    "ServerTimeout",
    "ServerUnavailable",
    "Unauthorized",
]


class ClientError(Exception):
    """Base of every failure the client raises; ``status`` is the HTTP status, or None without a response.

    Example:
        >>> str(ClientError("Image NOT Found", status=404))
        'Image NOT Found (HTTP 404)'
    """

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.status = status

    def __str__(self) -> str:
        return self.message if self.status is None else f"{self.message} (HTTP {self.status})"


class ServerUnavailable(ClientError):
    """The server could not be reached: refused connection, unknown host, network down."""


class ServerTimeout(ServerUnavailable):
    """The server did not answer within the client's timeout."""


class ServerError(ClientError):
    """The server answered with an error status; ``message`` is its ``detail`` text."""

    def __init__(self, status: int, message: str):
        super().__init__(message, status=status)


class NotFound(ServerError):
    """HTTP 404: unknown image, label, model, strategy, or no task of that kind yet."""


class Unauthorized(ServerError):
    """HTTP 401/403: the bearer token is missing, expired, or lacks the role this call needs."""


class ServerBusy(ServerError):
    """HTTP 429: a task of that kind (training, scoring) is already running."""


class ProtocolError(ClientError):
    """The server answered 2xx but not in the shape this client expects (bad JSON, missing label part)."""
