"""Whether the server's port is free, and if not, which process holds it: said before the server starts.

Without this check a restart over a server that outlived its ``ptxseg serve`` (or any other program on the port)
loads the model for a minute and then dies in uvicorn's bind error, which names neither the port's holder nor a fix.
"""

from __future__ import annotations

import errno
import socket

import psutil

__all__ = ["check_port_free", "port_holder"]


def check_port_free(host: str, port: int) -> None:
    """Raise ``ValueError`` naming the holder (pid and command line) when ``host:port`` cannot be bound.

    Example:
        >>> with socket.socket() as busy:
        ...     busy.bind(("127.0.0.1", 0)); busy.listen()
        ...     check_port_free("127.0.0.1", busy.getsockname()[1])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ValueError: port ... is in use by pid ...
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As uvicorn binds: a port whose last connections are only in TIME_WAIT is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise ValueError(f"cannot listen on {host}:{port}: {error.strerror}") from error
            raise ValueError(f"port {port} on {host} is in use by {port_holder(port)}; {_FIX}") from error


_FIX = "stop that process (an old server: kill PID) or choose another --port"


def port_holder(port: int) -> str:
    """``pid N (command line)`` of the process listening on TCP ``port``, or what is known when it is hidden.

    Example:
        >>> import os
        >>> with socket.socket() as busy:
        ...     busy.bind(("127.0.0.1", 0)); busy.listen()
        ...     port_holder(busy.getsockname()[1]).startswith(f"pid {os.getpid()} (")
        True
    """
    try:
        connections = psutil.net_connections(kind="tcp")
    except psutil.AccessDenied:
        return "a process this user cannot see (look with: ss -ltnp)"
    for connection in connections:
        if connection.status == psutil.CONN_LISTEN and connection.laddr.port == port:
            if connection.pid is None:
                return "a process of another user (look with: sudo ss -ltnp)"
            try:
                command = " ".join(psutil.Process(connection.pid).cmdline())
            except psutil.Error:
                command = "command line unknown"
            return f"pid {connection.pid} ({command[:300]})"
    return "another socket (not listening yet, or in another network namespace)"
