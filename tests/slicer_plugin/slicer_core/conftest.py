"""Slicer's own MRML on PyPI's slicer-core, set up the way the Slicer application sets up its scene.

Slicer's application registers the segmentation converter rules and creates the default colour tables at
start-up; slicer-core has no application, so this does the same once. The server comes from the outer test
(``PTXSEG_SERVER_URL``, ``PTXSEG_TIER_IMAGES``): this environment has numpy 2 and cannot run the server.
"""

import json
import os
import sys
from pathlib import Path

import pytest
import slicer

REPO_ROOT = Path(__file__).resolve().parents[3]
MODULE_DIR = REPO_ROOT / "slicer_plugin" / "PneumothoraxAnnotator"
SIIM_DICOM_DIR = REPO_ROOT.parent / "shared" / "data" / "siim-sample" / "dicom"
sys.path.insert(0, str(MODULE_DIR))

_factory = slicer.vtkSegmentationConverterFactory.GetInstance()
for rule in (
    slicer.vtkBinaryLabelmapToClosedSurfaceConversionRule,
    slicer.vtkClosedSurfaceToBinaryLabelmapConversionRule,
):
    _factory.RegisterConverterRule(rule())


@pytest.fixture
def volumes_logic():
    """Slicer's Volumes logic (as ``slicer.modules.volumes.logic()``) on an empty scene with default colours."""
    scene = slicer.vtkMRMLScene()
    application = slicer.vtkSlicerApplicationLogic()
    application.SetMRMLScene(scene)
    colors = slicer.vtkSlicerColorLogic()
    colors.SetMRMLApplicationLogic(application)
    colors.SetMRMLScene(scene)
    application.SetModuleLogic("Colors", colors)
    volumes = slicer.vtkSlicerVolumesLogic()
    volumes.SetMRMLApplicationLogic(application)
    volumes.SetMRMLScene(scene)
    yield volumes
    scene.Clear(1)


@pytest.fixture
def scene(volumes_logic):
    """The scene of ``volumes_logic``."""
    return volumes_logic.GetMRMLScene()


@pytest.fixture(scope="session")
def client():
    """A PtxsegClient on the live server the outer test started."""
    from PneumothoraxAnnotatorLib import PtxsegClient

    url = os.environ.get("PTXSEG_SERVER_URL")
    if not url:
        pytest.fail("PTXSEG_SERVER_URL is not set: run this tier through tests/slicer_plugin/test_slicer_core_tier.py")
    return PtxsegClient(url, token=os.environ.get("PTXSEG_SERVER_TOKEN"))


@pytest.fixture(scope="session")
def siim_dicoms():
    """The shared SIIM-ACR sample DICOMs (real CR files)."""
    files = sorted(SIIM_DICOM_DIR.glob("*.dcm"))
    if not files:
        pytest.skip(f"SIIM sample not found at {SIIM_DICOM_DIR}")
    return files


def open_image(volumes_logic, path, previous_segmentation=None):
    """What the module does on opening an image: a volume and a fresh segmentation on it."""
    from PneumothoraxAnnotatorLib.mrml import segments, volumes

    volume = volumes.load_volume(volumes_logic, path, Path(path).stem)
    scene = volumes_logic.GetMRMLScene()
    return volume, segments.new_segmentation(scene, volume, previous_segmentation)


@pytest.fixture(scope="session")
def images():
    """Image ids by kind (siim, coronal, png, phantom_dicom) that the outer test put on the server."""
    return json.loads(os.environ["PTXSEG_TIER_IMAGES"])
