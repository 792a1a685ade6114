"""What the attacks need beyond ``server_harness``: the server's processes, hard kills, results, files on disk."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time
from pathlib import Path

import numpy as np
import psutil
import SimpleITK as sitk

from ptxseg.serving.store import SERVED_NAME

# The attacked server's upload limit (conf max_upload_mb): small, so that oversize attacks stay cheap.
MAX_UPLOAD_MB = 1
# A readable study in the attacked folder whose file name is no safe id (a space, as exports sometimes have).
UNSAFE_NAME = "chest scan 7"

__all__ = [
    "MAX_UPLOAD_MB",
    "UNSAFE_NAME",
    "files_under",
    "group_statuses",
    "kill_server_tree",
    "listening_addresses",
    "read_mask",
    "served_digest",
    "server_groups",
    "server_tree",
    "signal_groups",
    "train_and_wait",
    "wait_for_stats",
]


def server_tree(server) -> list[psutil.Process]:
    """``ptxseg serve``, the MONAI Label server (its own process group) and everything they started."""
    root = psutil.Process(server.process.pid)
    return [root, *root.children(recursive=True)]


def server_groups(server) -> set[int]:
    """The process groups of the server tree: signalled as groups, they reach every process at once."""
    return {os.getpgid(process.pid) for process in server_tree(server)}


def signal_groups(groups: set[int], signum: int) -> None:
    """Send ``signum`` to every group in ``groups``."""
    for group in groups:
        os.killpg(group, signum)


def kill_server_tree(server, groups: set[int] | None = None) -> None:
    """SIGKILL every process group of the server tree at once: a power cut, as far as the files can tell."""
    groups = server_groups(server) if groups is None else groups
    signal_groups(groups, signal.SIGKILL)
    server.process.wait(30)
    deadline = time.monotonic() + 30
    while any(status != psutil.STATUS_ZOMBIE for status in group_statuses(groups)):
        assert time.monotonic() < deadline, f"process groups {groups} survived SIGKILL"
        time.sleep(0.1)


def group_statuses(groups: set[int]) -> list[str]:
    """The psutil status of every process still in one of ``groups`` (zombies included)."""
    return [p.info["status"] for p in psutil.process_iter(["status"]) if _pgid(p) in groups]


def _pgid(process: psutil.Process) -> int | None:
    try:
        return os.getpgid(process.pid)
    except ProcessLookupError:
        return None


def listening_addresses(server) -> set[str]:
    """The IP addresses the server's TCP sockets listen on."""
    addresses = set()
    for process in server_tree(server):
        for connection in process.net_connections(kind="tcp"):
            if connection.status == psutil.CONN_LISTEN:
                addresses.add(connection.laddr.ip)
    return addresses


def read_mask(path: Path) -> np.ndarray:
    """A stored or returned label as a 2-D array."""
    return np.squeeze(sitk.GetArrayFromImage(sitk.ReadImage(str(path))))


def served_digest(model_dir: Path) -> str:
    """SHA-256 of the served checkpoint."""
    return hashlib.sha256((model_dir / SERVED_NAME).read_bytes()).hexdigest()


def files_under(folder: Path) -> set[Path]:
    """Every file below ``folder`` (hidden ones included)."""
    return {path for path in folder.rglob("*") if path.is_file()}


def wait_for_stats(model_dir: Path, condition, timeout_s: float = 300) -> dict:
    """Poll the trainer's ``train_stats.json`` until ``condition(stats)`` holds."""
    path = model_dir / "train_stats.json"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            stats = json.loads(path.read_text())
        except (OSError, ValueError):
            stats = {}
        if condition(stats):
            return stats
        time.sleep(0.2)
    raise TimeoutError(f"train_stats.json never satisfied the condition; last: {stats}")


def train_and_wait(server, options: dict, **kwargs) -> dict:
    """Start a fine-tuning run and wait for its end; returns the final ``GET /train/`` record."""
    response = server.post("/train/pneumothorax", json=options, **kwargs)
    assert response.status_code == 200, response.text
    return server.wait_for_training()
