"""Run a script against the app's ``PtxsegDatastore`` in a subprocess: the app's ``lib`` package must not be imported
into the test process (it would shadow, or be shadowed by, other ``lib`` folders)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

APP_DIR = Path(__file__).resolve().parents[2] / "monailabel_app"

__all__ = ["APP_DIR", "last_json", "run_in_app"]


def run_in_app(script: str, *args) -> subprocess.CompletedProcess:
    """``python -c script *args`` with the app importable (``from lib.datastore import PtxsegDatastore``)."""
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(APP_DIR), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-c", script, *map(str, args)], capture_output=True, text=True, env=environment, timeout=120
    )


def last_json(result: subprocess.CompletedProcess):
    """The JSON the script printed last; fails with its stderr when it did not succeed."""
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])
