"""Fixtures for the Slicer extension's pure library: import path, a stub HTTP server, the live server URL."""

import json
import socket
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

# Runs in its own numpy 2 environment, started by test_slicer_core_tier.py.
collect_ignore = ["slicer_core"]

MODULE_DIR = Path(__file__).resolve().parents[2] / "slicer_plugin" / "PneumothoraxAnnotator"
# Slicer puts the module folder on sys.path; do the same so `import PneumothoraxAnnotatorLib` works.
if str(MODULE_DIR) not in sys.path:
    sys.path.insert(0, str(MODULE_DIR))


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict
    headers: dict
    body: bytes


@dataclass
class StubResponse:
    status: int = 200
    body: bytes = b"{}"
    headers: dict = field(default_factory=lambda: {"Content-Type": "application/json"})
    delay_s: float = 0.0


class StubServer:
    """A local HTTP server answering canned responses per (method, path) and recording every request."""

    def __init__(self):
        self.routes = {}
        self.requests = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        # A short poll interval keeps shutdown (once per test) from costing the default half second.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.01,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def answer(self, method, path, body=None, status=200, headers=None, delay_s=0.0):
        """Answer ``method path`` with ``body`` (dict/list -> JSON, bytes as they are)."""
        if isinstance(body, (dict, list)) or body is None:
            payload, content_type = json.dumps(body if body is not None else {}).encode(), "application/json"
        else:
            payload, content_type = body, "application/octet-stream"
        all_headers = {"Content-Type": content_type, **(headers or {})}
        self.routes[(method, path)] = StubResponse(status, payload, all_headers, delay_s)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()

    def _handler_class(self):
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                parsed = urllib.parse.urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                query = dict(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True))
                headers = {key.lower(): value for key, value in self.headers.items()}
                stub.requests.append(RecordedRequest(self.command, parsed.path, query, headers, body))
                response = stub.routes.get((self.command, parsed.path))
                if response is None:
                    response = StubResponse(404, json.dumps({"detail": "Not Found"}).encode())
                time.sleep(response.delay_s)
                try:
                    self.send_response(response.status)
                    for key, value in response.headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(response.body)))
                    self.end_headers()
                    self.wfile.write(response.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

            def log_message(self, format, *args):
                pass

        return Handler


@pytest.fixture
def stub_server():
    """A running StubServer; stopped after the test."""
    server = StubServer().start()
    yield server
    server.stop()


@pytest.fixture
def closed_port_url():
    """An http URL on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def live_server_url(request):
    """The lead's ``ptxseg_server`` fixture (a real ptxseg MONAI Label server over phantom studies).

    Skips, naming the missing fixture, until tests/conftest.py provides it.
    """
    try:
        return request.getfixturevalue("ptxseg_server")
    except pytest.FixtureLookupError:
        pytest.skip("fixture ptxseg_server (a running ptxseg MONAI Label server) is not defined in tests/conftest.py")


@pytest.fixture(scope="module")
def live_server_token(live_server_url, request) -> str:
    """The bearer token of the live server (``ptxseg serve`` requires one by default)."""
    return request.getfixturevalue("ptxseg_server_token")
