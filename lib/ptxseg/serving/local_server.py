"""A local ``ptxseg serve`` for tests, benchmarks and scripts: started on a free loopback port, stopped with its tree.

``running_server`` runs ``python -m ptxseg serve`` as a subprocess in its own session over a studies folder and a
model folder, with a bearer token of its own (as every ``ptxseg serve`` has one), waits until ``GET /info/``
answers, and on leaving the block stops the server's whole process group (the MONAI Label server and any training
or scoring it started), so nothing outlives the caller. The server's output goes to a log file beside the model
folder, which every start-up failure quotes.

This module only talks to the server over HTTP: it imports neither MONAI Label nor the app.

Example:
    >>> with running_server(Path("studies"), Path("work/model"), {"encoder": "efficientnet-b0"}) as server:
    ...     server.get("/info/").status_code  # doctest: +SKIP
    200
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes
from pathlib import Path

import requests

from ptxseg.serving.token import TOKEN_FILE_NAME

__all__ = ["LocalServer", "free_port", "infer_all", "running_server", "stop_server", "START_TIMEOUT_S"]

# Start-up imports torch and MONAI Label and loads the model: about a minute on 2 busy cores, so allow three.
START_TIMEOUT_S = 180
REQUEST_TIMEOUT_S = 120


@dataclass
class LocalServer:
    """A running server: its base URL, folders, log file, the ``ptxseg serve`` process and its bearer token.

    ``get``/``post``/``put``/``delete`` send the token unless the call passes ``headers`` of its own (then exactly
    those are sent: tests of refusals pass none or wrong ones).
    """

    url: str
    studies: Path
    model_dir: Path
    log_path: Path
    process: subprocess.Popen
    token: str | None = None

    @property
    def auth_headers(self) -> dict:
        """The ``Authorization`` header that opens this server (empty when it has no token)."""
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        """``method`` on ``path`` (relative to the server URL), with the token unless ``headers`` are given."""
        kwargs.setdefault("headers", self.auth_headers)
        kwargs.setdefault("timeout", REQUEST_TIMEOUT_S)
        return requests.request(method, self.url + path, **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        """GET ``path``."""
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        """POST to ``path``."""
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs) -> requests.Response:
        """PUT to ``path``."""
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs) -> requests.Response:
        """DELETE ``path``."""
        return self.request("DELETE", path, **kwargs)

    def log(self) -> str:
        """Everything the server printed so far."""
        return self.log_path.read_text(errors="replace")

    def wait_for_training(self, timeout_s: float = 600) -> dict:
        """Poll ``GET /train/`` until the last run ends; returns its status record."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            status = self.get("/train/").json()
            if status.get("status") in ("DONE", "ERROR", "STOPPED"):
                return status
            time.sleep(1.0)
        raise TimeoutError(f"training did not finish in {timeout_s} s; log tail:\n{self.log()[-3000:]}")


def free_port() -> int:
    """A TCP port free on the loopback interface right now.

    Example:
        >>> 1024 <= free_port() <= 65535
        True
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_server(
    studies: Path,
    model_dir: Path,
    conf: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    host: str | None = None,
    start_timeout_s: float = START_TIMEOUT_S,
    app: Path | None = None,
    token: str = "own",
) -> Iterator[LocalServer]:
    """Run ``ptxseg serve`` over ``studies`` until the block ends; raises with the server log if it does not come up.

    Args:
        studies: the studies folder (``--studies``).
        model_dir: the app's model folder (``--conf model_dir``); its parent is the server's working folder and
            holds its log, ``server-<port>.log``.
        conf: further app settings, each passed as ``--conf KEY VALUE``.
        env: variables added to the server's environment (``PTXSEG_TOKEN`` or ``PTXSEG_TOKEN_FILE`` there set
            the server's token).
        host: passed as ``--host``; requests always go to 127.0.0.1.
        start_timeout_s: how long to wait for ``GET /info/`` to answer 200.
        app: the app folder (``--app``; default: the main app), e.g. ``sample-apps/ensemble``.
        token: ``own`` (a random token of the caller's, unless ``env`` sets one), ``generated`` (the one ``ptxseg
            serve`` makes, read from its file in the model folder) or ``none`` (``--no-token``).
    """
    if token not in ("own", "generated", "none"):
        raise ValueError(f"token must be own, generated or none, got {token!r}")
    port = free_port()
    settings = {"model_dir": str(model_dir), **(conf or {})}
    command = [sys.executable, "-m", "ptxseg", "serve", "--studies", str(studies), "--port", str(port)]
    if host:
        command += ["--host", host]
    if app is not None:
        command += ["--app", str(Path(app).resolve())]
    for key, value in settings.items():
        command += ["--conf", key, value]
    env = dict(env or {})
    if token == "none":
        command.append("--no-token")
    elif token == "own" and not env.get("PTXSEG_TOKEN_FILE"):
        env.setdefault("PTXSEG_TOKEN", secrets.token_urlsafe(24))
    log_path = model_dir.parent / f"server-{port}.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=model_dir.parent,
            env={**{k: v for k, v in os.environ.items() if not k.startswith("PTXSEG_TOKEN")}, **env},
        )
    server = LocalServer(f"http://127.0.0.1:{port}", studies, model_dir, log_path, process, _token(env))
    try:
        if token == "generated":
            server.token = _generated_token(server, start_timeout_s)
        _wait_until_up(server, start_timeout_s)
        yield server
    finally:
        stop_server(server)


def stop_server(server: LocalServer) -> None:
    """SIGTERM to ``ptxseg serve``, which stops the server's whole process group; SIGKILL if it lingers."""
    if server.process.poll() is None:
        os.killpg(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait()


def _token(env: Mapping[str, str]) -> str | None:
    return env.get("PTXSEG_TOKEN") or (
        Path(env["PTXSEG_TOKEN_FILE"]).read_text().strip() if env.get("PTXSEG_TOKEN_FILE") else None
    )


def _generated_token(server: LocalServer, timeout_s: float) -> str:
    """The token ``ptxseg serve`` generated, once it has printed its URL (the token file is written before)."""
    deadline = time.monotonic() + timeout_s
    while "ptxseg server: " not in server.log():
        if server.process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"ptxseg serve printed no URL:\n{server.log()[-4000:]}")
        time.sleep(0.2)
    return (server.model_dir / TOKEN_FILE_NAME).read_text().strip()


def _wait_until_up(server: LocalServer, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited with {server.process.returncode}:\n{server.log()[-4000:]}")
        try:
            if server.get("/info/", timeout=5).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"server did not answer /info/ in {timeout_s} s:\n{server.log()[-4000:]}")


def infer_all(server: LocalServer, image_id: str, **kwargs) -> tuple[requests.Response, bytes | None, dict | None]:
    """``POST /infer/pneumothorax?output=all``: the response, the label file's bytes and the result JSON (both None
    when the answer is not 200). ``kwargs`` go to ``requests`` (headers, timeout)."""
    response = server.post(f"/infer/pneumothorax?image={image_id}&output=all", **kwargs)
    if response.status_code != 200:
        return response, None, None
    header = b"Content-Type: " + response.headers["content-type"].encode() + b"\r\n\r\n"
    parts = {
        part.get_param("name", header="content-disposition"): part.get_payload(decode=True)
        for part in message_from_bytes(header + response.content).get_payload()
    }
    return response, parts["image"], json.loads(parts["params"])
