"""Shared fixtures: the real SIIM-ACR sample lives beside the repository, never inside it."""

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SIIM_SAMPLE_DIR = REPO_ROOT.parent / "shared" / "data" / "siim-sample"


@pytest.fixture(scope="session")
def siim_sample() -> Path:
    """The shared folder of 7 real SIIM-ACR DICOMs with their RLE ground truth (skips when absent)."""
    if not (SIIM_SAMPLE_DIR / "train-rle.csv").is_file():
        pytest.skip(f"SIIM sample not found at {SIIM_SAMPLE_DIR} (it lies in ../shared on developer machines and CI)")
    return SIIM_SAMPLE_DIR
