"""A real Orthanc PACS for tests: Debian's ``orthanc`` and ``orthanc-dicomweb`` packages, started on a free
loopback port with a temporary storage folder, stopped by its own pid (never by name: Debian's init script stops
every Orthanc on the machine)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

__all__ = ["Orthanc", "require_orthanc"]

PLUGIN_CANDIDATES = ("/usr/share/orthanc/plugins/libOrthancDicomWeb.so",)
USER, PASSWORD = "ptxseg", "pacs-test-password"


def _plugin() -> str | None:
    return next((path for path in PLUGIN_CANDIDATES if Path(path).is_file()), None)


def require_orthanc() -> None:
    """Skip with the reason when Orthanc or its DICOMweb plugin is not installed (CI installs both)."""
    if shutil.which("Orthanc") is None or _plugin() is None:
        pytest.skip("Orthanc with its DICOMweb plugin is not installed: run scripts/setup_pacs.sh")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Orthanc:
    """One Orthanc in ``folder`` (storage, index, config and log); ``start()`` again after ``stop()`` reuses its
    storage and port, as a PACS back from an outage does."""

    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def dicomweb(self) -> str:
        return f"{self.url}/dicom-web"

    @property
    def auth(self) -> tuple[str, str]:
        return USER, PASSWORD

    def start(self, timeout_s: float = 30.0) -> Orthanc:
        require_orthanc()
        self.folder.mkdir(parents=True, exist_ok=True)
        config = {
            "Name": "ptxseg-test",
            "StorageDirectory": str(self.folder / "storage"),
            "IndexDirectory": str(self.folder / "storage"),
            "HttpPort": self.port,
            "DicomServerEnabled": False,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": True,
            "RegisteredUsers": {USER: PASSWORD},
            "Plugins": [_plugin()],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
            "HttpTimeout": 30,
        }
        (self.folder / "orthanc.json").write_text(json.dumps(config))
        log = (self.folder / "orthanc.log").open("ab")
        self.process = subprocess.Popen(
            ["Orthanc", str(self.folder / "orthanc.json")], stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Orthanc exited with {self.process.returncode}: see {self.folder}/orthanc.log")
            try:
                if requests.get(f"{self.url}/system", auth=self.auth, timeout=1).ok:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"Orthanc did not answer on {self.url} within {timeout_s} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None

    def upload(self, path: Path) -> dict:
        """Store one DICOM file through Orthanc's REST API."""
        response = requests.post(f"{self.url}/instances", data=Path(path).read_bytes(), auth=self.auth, timeout=30)
        response.raise_for_status()
        return response.json()

    def instances(self, modality: str | None = None) -> list[dict]:
        """Every stored instance's main tags (optionally of one modality), through Orthanc's REST API."""
        found = []
        for identifier in requests.get(f"{self.url}/instances", auth=self.auth, timeout=30).json():
            tags = requests.get(f"{self.url}/instances/{identifier}/simplified-tags", auth=self.auth, timeout=30)
            tags = tags.json()
            if modality is None or tags.get("Modality") == modality:
                found.append({"id": identifier, **tags})
        return found

    def file(self, identifier: str) -> bytes:
        return requests.get(f"{self.url}/instances/{identifier}/file", auth=self.auth, timeout=30).content
