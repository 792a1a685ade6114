"""The PACS tests' shared parts: a small model and a real Orthanc per test."""

import pytest

from tests.support.orthanc import Orthanc, require_orthanc
from tests.support.small_model import write_small_checkpoint


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A small trained-shape U-Net checkpoint, one per test module."""
    return write_small_checkpoint(tmp_path_factory.mktemp("model") / "b0.safetensors")


@pytest.fixture
def orthanc(tmp_path):
    """A real Orthanc with its DICOMweb plugin, stopped after the test (skips when Orthanc is not installed)."""
    require_orthanc()
    server = Orthanc(tmp_path / "orthanc").start()
    yield server
    server.stop()
