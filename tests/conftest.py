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


@pytest.fixture(scope="session")
def app_server(tmp_path_factory, siim_sample):
    """One real ptxseg MONAI Label server for the session: phantoms, the 7 SIIM DICOMs and a corrupt file.

    Tests sharing it must not assume the model version they start with: later tests fine-tune it.
    """
    from tests.support.server_harness import make_test_studies, running_server

    root = tmp_path_factory.mktemp("app-server")
    studies = make_test_studies(root / "studies", siim_sample)
    with running_server(studies, root / "model") as server:
        yield server


@pytest.fixture(scope="session")
def ptxseg_server(app_server) -> str:
    """The shared server's base URL (for the Slicer plugin's live tests)."""
    return app_server.url


@pytest.fixture(scope="session")
def ptxseg_server_token(app_server) -> str:
    """The shared server's bearer token (every ``ptxseg serve`` requires one by default)."""
    return app_server.token


@pytest.fixture(scope="session")
def trained_phantom_model(tmp_path_factory):
    """A b0 U-Net trained from scratch on 128 px phantoms (about 3 minutes on 2 cores), with held-out metrics."""
    from tests.support.phantom_training import train_phantom_model

    return train_phantom_model(tmp_path_factory.mktemp("trained-phantom-model"))
