"""dciodvfy (dicom3tools), the DICOM validator every SEG must pass; tests skip when it is not installed."""

import shutil
import subprocess

import pytest

__all__ = ["dciodvfy_errors"]


def dciodvfy_errors(path) -> list[str]:
    """dciodvfy's error lines for a file (its warnings concern DICOMDIR building and retired name forms)."""
    if shutil.which("dciodvfy") is None:
        pytest.skip("dciodvfy not installed: run scripts/setup_pacs.sh (installs dicom3tools)")
    checked = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
    return [line for line in (checked.stdout + checked.stderr).splitlines() if line.startswith("Error")]
