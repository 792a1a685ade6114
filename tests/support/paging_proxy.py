"""A DICOMweb proxy in front of Orthanc that really pages QIDO results (Orthanc 1.10 applies ``limit`` but not
``offset``): each search answers at most ``page_size`` results from ``offset`` on; every other request passes
through. It counts requests, so a test can tell a cached image from a fetched one."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests

__all__ = ["PagingProxy"]

# Headers that describe one connection or the upstream's encoding, not the content passed on.
_HOP_BY_HOP = ("content-length", "transfer-encoding", "connection", "keep-alive", "content-encoding")


class PagingProxy:
    """``with PagingProxy(orthanc.url, page_size=2) as proxy: proxy.dicomweb ...``"""

    def __init__(self, upstream: str, page_size: int = 2, search_delay_s: float = 0.0):
        self.upstream = upstream.rstrip("/")
        self.page_size = page_size
        self.search_delay_s = search_delay_s  # a PACS that answers searches slowly
        self.requests: Counter = Counter()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            protocol_version = "HTTP/1.1"  # keep-alive, as the PACS itself speaks

            def do_GET(self):
                proxy._forward(self, "GET")

            def do_POST(self):
                proxy._forward(self, "POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def dicomweb(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/dicom-web"

    def __enter__(self) -> PagingProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _forward(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        searching = method == "GET" and parts.path.rstrip("/").endswith(("/instances", "/series", "/studies"))
        feed = parts.path.startswith("/changes") or parts.path.endswith("/study")  # Orthanc's change feed
        self.requests["feed" if feed else "search" if searching else "retrieve" if method == "GET" else "store"] += 1
        if searching:
            time.sleep(self.search_delay_s)
        offset, limit = (int(query.pop("offset", 0)), int(query.pop("limit", 10**6))) if searching else (0, 10**6)
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in ("host", "content-length")}
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0)) if method == "POST" else None
        url = f"{self.upstream}{parts.path}" + (f"?{urlencode(query).replace('last=', 'last')}" if query else "")
        response = requests.request(method, url, headers=headers, data=body, timeout=30)
        content = response.content
        if searching and response.ok and content:
            content = json.dumps(json.loads(content)[offset : offset + min(limit, self.page_size)]).encode()
        handler.send_response(response.status_code)
        for key, value in response.headers.items():
            if key.lower() not in _HOP_BY_HOP:
                handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(content)))
        handler.end_headers()
        handler.wfile.write(content)
