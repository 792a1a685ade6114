"""Start the real ptxseg MONAI Label server (``ptxseg serve``) as a subprocess for tests, and talk to it.

Every server runs on a free loopback port over a temporary studies folder and model folder, and is stopped with
everything it started (training and scoring children) when the test is done.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes
from pathlib import Path

import numpy as np
import requests
import SimpleITK as sitk

from ptxseg.phantom.demo import make_demo_studies

# Small and fast: 128 px phantoms through a b0 U-Net at 128 px on CPU.
TEST_CONF = {"image_size": "128", "encoder": "efficientnet-b0", "batch_size": "4", "epochs": "1"}
START_TIMEOUT_S = 180


@dataclass
class Server:
    """A running server: its base URL, folders and log."""

    url: str
    studies: Path
    model_dir: Path
    log_path: Path
    process: subprocess.Popen

    def get(self, path: str, **kwargs) -> requests.Response:
        """GET ``path`` (relative to the server URL)."""
        return requests.get(self.url + path, timeout=kwargs.pop("timeout", 120), **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        """POST to ``path``."""
        return requests.post(self.url + path, timeout=kwargs.pop("timeout", 120), **kwargs)

    def put(self, path: str, **kwargs) -> requests.Response:
        """PUT to ``path``."""
        return requests.put(self.url + path, timeout=kwargs.pop("timeout", 120), **kwargs)

    def delete(self, path: str, **kwargs) -> requests.Response:
        """DELETE ``path``."""
        return requests.delete(self.url + path, timeout=kwargs.pop("timeout", 120), **kwargs)

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


def training_result(status: dict) -> dict | None:
    """The trainer's ``ptxseg_result`` line from a training status record."""
    for line in status.get("details", []):
        if line.startswith("ptxseg_result: "):
            return json.loads(line[len("ptxseg_result: ") :])
    return None


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def make_test_studies(folder: Path, siim_sample: Path | None = None, n_phantoms: int = 12) -> Path:
    """Phantom studies (dotted-UID DICOMs and PNGs, some labelled), the real SIIM DICOMs, one corrupt file."""
    make_demo_studies(folder, n=n_phantoms, size=128)
    if siim_sample is not None:
        for dicom in sorted((siim_sample / "dicom").glob("*.dcm")):
            shutil.copyfile(dicom, folder / dicom.name)
    real = next(folder.glob("2.25.*.dcm")).read_bytes()
    (folder / "corrupt-truncated.dcm").write_bytes(real[: len(real) // 3])
    return folder


@contextmanager
def running_server(
    studies: Path, model_dir: Path, conf: dict | None = None, env: dict | None = None, host: str | None = None
):
    """Run ``ptxseg serve`` until the block ends; fails with the server log if it does not come up.

    ``host`` is passed as ``--host``; requests always go to 127.0.0.1.
    """
    port = free_port()
    settings = {**TEST_CONF, "model_dir": str(model_dir), **(conf or {})}
    command = [sys.executable, "-m", "ptxseg", "serve", "--studies", str(studies), "--port", str(port)]
    if host:
        command += ["--host", host]
    for key, value in settings.items():
        command += ["--conf", key, value]
    log_path = model_dir.parent / f"server-{port}.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=model_dir.parent,
            env={**os.environ, **(env or {})},
        )
    server = Server(f"http://127.0.0.1:{port}", studies, model_dir, log_path, process)
    try:
        _wait_until_up(server, headers=_auth_headers(env))
        yield server
    finally:
        stop_server(server)


def _auth_headers(env: dict | None) -> dict:
    env = env or {}
    token = env.get("PTXSEG_TOKEN") or (
        Path(env["PTXSEG_TOKEN_FILE"]).read_text().strip() if env.get("PTXSEG_TOKEN_FILE") else None
    )
    return {"Authorization": f"Bearer {token}"} if token else {}


def _wait_until_up(server: Server, headers: dict) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited with {server.process.returncode}:\n{server.log()[-4000:]}")
        try:
            if requests.get(server.url + "/info/", headers=headers, timeout=5).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"server did not answer /info/ in {START_TIMEOUT_S} s:\n{server.log()[-4000:]}")


def stop_server(server: Server) -> None:
    """SIGTERM to ``ptxseg serve``, which stops the server's whole process group; SIGKILL if it lingers."""
    if server.process.poll() is None:
        os.killpg(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait()


def infer_all(server, image_id: str, **kwargs) -> tuple[requests.Response, bytes | None, dict | None]:
    """``POST /infer/pneumothorax?output=all``: the response, the label file's bytes and the result JSON."""
    response = server.post(f"/infer/pneumothorax?image={image_id}&output=all", **kwargs)
    if response.status_code != 200:
        return response, None, None
    header = b"Content-Type: " + response.headers["content-type"].encode() + b"\r\n\r\n"
    parts = {
        part.get_param("name", header="content-disposition"): part.get_payload(decode=True)
        for part in message_from_bytes(header + response.content).get_payload()
    }
    return response, parts["image"], json.loads(parts["params"])


def label_grid(path: Path) -> tuple:
    """Size, spacing, origin and direction of an image's in-plane grid as ITK (and 3D Slicer) read it."""
    image = sitk.ReadImage(str(path))
    dimension = image.GetDimension()
    direction = np.array(image.GetDirection()).reshape(dimension, dimension)[:2, :2]
    return (
        image.GetSize()[:2],
        np.round(image.GetSpacing()[:2], 6).tolist(),
        np.round(image.GetOrigin()[:2], 6).tolist(),
        np.round(direction, 6).tolist(),
    )
