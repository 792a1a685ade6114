"""Which web pages and which host names may reach the server: the policy, free of any web framework.

The server holds patient images, and a browser lets every page it has open send requests to 127.0.0.1. Two attacks
follow, and Jupyter Server's answers to them are the model here:

- a page of another origin reads answers or changes data (cross-origin requests): refused unless its origin is
  allowed explicitly (``--allow-origin``); requests from the server's own origin and from non-browser clients (no
  ``Origin`` header) pass;
- DNS rebinding, a page whose host name now resolves to 127.0.0.1: its requests carry that host name, so on a
  loopback bind only ``127.0.0.1``, ``localhost`` and ``[::1]`` (and names given with ``--allow-host``) are accepted
  in the ``Host`` header. A server bound to another address is reached by names this process cannot know; there the
  ``Host`` check applies only when ``--allow-host`` names them, and the bearer token (required there) protects it.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["LOOPBACK_NAMES", "SERVER_HOST_VARIABLE", "WebAccess", "check_origin", "is_loopback", "parse_list"]

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
# ``ptxseg serve`` tells the server process the address it was bound to (MONAI Label keeps it nowhere).
SERVER_HOST_VARIABLE = "PTXSEG_SERVER_HOST"


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address to bind or a host name) stays on this machine.

    Example:
        >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("::1"), is_loopback("0.0.0.0")
        (True, True, True, False)
    """
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_list(text: str) -> tuple[str, ...]:
    """A comma-separated conf value as its items, blanks dropped.

    Example:
        >>> parse_list(" http://a.example:3000, ,http://b.example ")
        ('http://a.example:3000', 'http://b.example')
    """
    return tuple(item.strip() for item in text.split(",") if item.strip())


def _host_name(host_header: str) -> str:
    """The name in a ``Host`` header, without its port: ``[::1]:8000`` -> ``::1``, ``LocalHost:80`` -> ``localhost``."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def check_origin(origin: str) -> str:
    """An allowed origin as browsers send it (``scheme://host[:port]``), or a ValueError saying how to write it.

    Example:
        >>> check_origin("http://viewer.example:3000/")
        'http://viewer.example:3000'
        >>> check_origin("*")
        Traceback (most recent call last):
        ValueError: allowed origin '*': every web page would be allowed; name each origin, e.g. http://viewer.example:3000
    """
    origin = origin.strip().rstrip("/")
    if origin == "*":
        raise ValueError(
            "allowed origin '*': every web page would be allowed; name each origin, e.g. http://viewer.example:3000"
        )
    scheme, _, rest = origin.partition("://")
    if scheme not in ("http", "https") or not rest or "/" in rest:
        raise ValueError(f"allowed origin {origin!r} must be scheme://host[:port], e.g. http://viewer.example:3000")
    return origin.lower()


@dataclass(frozen=True)
class WebAccess:
    """The origins and host names the server accepts, for a server bound to ``bind_host``.

    Example:
        >>> access = WebAccess("127.0.0.1", allowed_origins=("http://viewer.example:3000",))
        >>> access.host_allowed("localhost:8000"), access.host_allowed("evil.example:8000")
        (True, False)
        >>> access.origin_allowed("http://evil.example", "127.0.0.1:8000")
        False
        >>> access.origin_allowed("http://127.0.0.1:8000", "127.0.0.1:8000")  # the server's own pages
        True
        >>> access.origin_allowed("http://viewer.example:3000", "127.0.0.1:8000")
        True
    """

    bind_host: str = "127.0.0.1"
    allowed_origins: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "allowed_origins", tuple(check_origin(origin) for origin in self.allowed_origins))
        object.__setattr__(self, "allowed_hosts", tuple(_host_name(host) for host in self.allowed_hosts))

    @classmethod
    def from_settings(cls, allow_origins: str, allow_hosts: str, environ: Mapping[str, str] = os.environ):
        """The policy of the server process: the conf's lists and the bind address ``ptxseg serve`` passed on
        (unknown means loopback, the strict case).

        Example:
            >>> WebAccess.from_settings("", "cxr.hospital.example", {}).allowed_hosts
            ('cxr.hospital.example',)
        """
        bind_host = environ.get(SERVER_HOST_VARIABLE) or "127.0.0.1"
        return cls(bind_host, parse_list(allow_origins), parse_list(allow_hosts))

    def host_allowed(self, host_header: str | None) -> bool:
        """Whether a request's ``Host`` header names this server (see the module docstring)."""
        if not host_header:
            return False
        name = _host_name(host_header)
        if name in LOOPBACK_NAMES or name in self.allowed_hosts:
            return True
        if is_loopback(self.bind_host):
            return False
        return not self.allowed_hosts or name == _host_name(self.bind_host)

    def origin_allowed(self, origin: str | None, host_header: str | None) -> bool:
        """Whether a request with this ``Origin`` header may reach the server: none (not a browser's cross-origin
        request), the server's own origin, or one allowed explicitly. ``null`` (sandboxed pages, files) is not."""
        if origin is None:
            return True
        origin = origin.strip().rstrip("/").lower()
        if origin in self.allowed_origins:
            return True
        _, _, authority = origin.partition("://")
        return bool(host_header) and authority == host_header.strip().lower()

    def refusal(self, host_header: str | None, origin: str | None) -> str | None:
        """Why a request is refused (a message that says how to allow it), or None when it may pass."""
        if not self.host_allowed(host_header):
            names = ", ".join([*LOOPBACK_NAMES, *self.allowed_hosts])
            return (
                f"Host {host_header!r} is not a name of this server (accepted: {names}); a real host name is allowed "
                "with ptxseg serve --allow-host NAME (conf allow_hosts)"
            )
        if not self.origin_allowed(origin, host_header):
            return (
                f"requests from the web page origin {origin!r} are refused; allow it with ptxseg serve --allow-origin "
                f"{origin} (conf allow_origins) if that page is yours"
            )
        return None
