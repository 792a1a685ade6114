"""The web access policy: which Host names and which page origins a server bound to an address accepts."""

from __future__ import annotations

import pytest

from ptxseg.serving.web_access import SERVER_HOST_VARIABLE, WebAccess, check_origin, is_loopback


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost", "LOCALHOST:1", "[::1]:8000", "[::1]", "127.0.0.1"])
def test_a_loopback_bind_accepts_the_loopback_names(host):
    assert WebAccess("127.0.0.1").host_allowed(host)


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:8000", "127.0.0.1.nip.io", "localhost.evil.example", "192.168.1.2", "", None]
)
def test_a_loopback_bind_refuses_every_other_name(host):
    assert not WebAccess("127.0.0.1").host_allowed(host)


def test_allowed_host_names_are_accepted_whatever_the_bind():
    assert WebAccess("127.0.0.1", allowed_hosts=("cxr.hospital.example",)).host_allowed("cxr.hospital.example:8000")
    access = WebAccess("0.0.0.0", allowed_hosts=("cxr.hospital.example",))
    assert access.host_allowed("cxr.hospital.example") and access.host_allowed("localhost:8000")
    assert not access.host_allowed("evil.example")


def test_a_bind_beyond_this_machine_without_allowed_names_accepts_any_host():
    assert WebAccess("0.0.0.0").host_allowed("10.1.2.3:8000")
    assert WebAccess("10.1.2.3", allowed_hosts=("cxr",)).host_allowed("10.1.2.3:8000")


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        (None, True),  # not a browser's cross-origin request
        ("http://127.0.0.1:8000", True),  # the server's own pages
        ("http://viewer.example:3000", True),
        ("HTTP://VIEWER.EXAMPLE:3000/", True),
        ("http://viewer.example:3001", False),
        ("https://viewer.example:3000", False),
        ("http://127.0.0.1:9000", False),  # another program's page on this machine
        ("null", False),  # sandboxed frames, local files
        ("http://evil.example", False),
    ],
)
def test_origins(origin, allowed):
    access = WebAccess("127.0.0.1", allowed_origins=("http://viewer.example:3000",))
    assert access.origin_allowed(origin, "127.0.0.1:8000") is allowed


@pytest.mark.parametrize("origin", ["*", "viewer.example", "ftp://viewer.example", "http://viewer.example/path", ""])
def test_an_allowed_origin_must_be_one_origin(origin):
    with pytest.raises(ValueError, match="allowed origin"):
        check_origin(origin)


def test_the_refusal_says_how_to_allow():
    access = WebAccess()
    assert "--allow-host" in access.refusal("evil.example", None)
    assert "--allow-origin http://evil.example" in access.refusal("127.0.0.1:8000", "http://evil.example")
    assert access.refusal("127.0.0.1:8000", None) is None


def test_the_server_process_reads_its_bind_address():
    assert WebAccess.from_settings("", "", {SERVER_HOST_VARIABLE: "0.0.0.0"}).host_allowed("10.1.2.3")
    assert not WebAccess.from_settings("", "", {}).host_allowed("10.1.2.3")


def test_loopback():
    assert is_loopback("127.0.0.2") and is_loopback("[::1]") and not is_loopback("example.org")
