"""The slicer-core tier: the module's MRML functions on Slicer's own MRML (PyPI slicer-core), against the
live ptxseg server.

slicer-core needs numpy 2 and the server numpy<2, so the tier runs in .venv-slicer-core
(``scripts/setup_slicer_core.sh``) as its own pytest, started from here with the live server's URL and the
ids of the images this test adds to it: a coronal DICOM with a non-zero origin and a MONOCHROME1 DICOM with
a window of its own.
"""

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest

from ptxseg.io.writers import write_dicom

REPO_ROOT = Path(__file__).resolve().parents[2]
TIER_DIR = Path(__file__).resolve().parent / "slicer_core"
TIER_PYTHON = REPO_ROOT / ".venv-slicer-core" / "bin" / "python"
TIER_TIMEOUT_S = 900

pytestmark = [pytest.mark.server, pytest.mark.slow]


def _tier_python() -> Path:
    if TIER_PYTHON.exists():
        return TIER_PYTHON
    message = f"{TIER_PYTHON} is missing: run scripts/setup_slicer_core.sh to set up the slicer-core tier"
    if os.environ.get("CI"):
        pytest.fail(message)  # CI sets the tier up; a missing one there is a broken pipeline, not a skip
    pytest.skip(message)


def _phantom_dicom(path: Path, uid: str, **tags) -> Path:
    """A 96 x 128 synthetic radiograph (an off-centre bright block) with ``tags`` set on top."""
    pixels = np.full((96, 128), 400, np.uint16)
    pixels[20:40, 80:110] = 3000
    write_dicom(pixels, path, (0.5, 0.7), bits_stored=12, sop_instance_uid=uid)
    dataset = pydicom.dcmread(path)
    for keyword, value in tags.items():
        setattr(dataset, keyword, value)
    dataset.save_as(path)
    return path


def _upload(server, path: Path, image_id: str) -> str:
    with open(path, "rb") as file:
        answer = server.put(
            "/datastore/image", params={"image": image_id}, files={"file": (path.name, file)}, timeout=60
        )
    assert answer.status_code == 200, answer.text
    return image_id


@pytest.fixture(scope="module")
def tier_images(ptxseg_server, app_server, tmp_path_factory, siim_sample):
    folder = tmp_path_factory.mktemp("slicer-core-images")
    coronal = _phantom_dicom(
        folder / "coronal.dcm",
        "2.25.1147",
        ImageOrientationPatient=[1, 0, 0, 0, 0, -1],
        ImagePositionPatient=[-120.5, 33.25, 410.0],
    )
    inverted = _phantom_dicom(
        folder / "monochrome1.dcm",
        "2.25.1148",
        PhotometricInterpretation="MONOCHROME1",
        WindowCenter=1500,
        WindowWidth=2000,
    )
    objects = app_server.get("/datastore/", params={"output": "all"}, timeout=60).json()["objects"]
    return {
        "siim": sorted(path.stem for path in (siim_sample / "dicom").glob("*.dcm"))[0],
        "png": sorted(key for key in objects if key.startswith("demo-chest"))[0],
        "phantom_dicom": sorted(key for key in objects if key.startswith("2.25.31415"))[0],
        "coronal": _upload(app_server, coronal, "2.25.1147"),
        "monochrome1": _upload(app_server, inverted, "2.25.1148"),
    }


def test_slicer_core_tier(ptxseg_server, ptxseg_server_token, tier_images, tmp_path):
    python = _tier_python()
    env = {**os.environ, "PTXSEG_SERVER_URL": ptxseg_server, "PTXSEG_TIER_IMAGES": json.dumps(tier_images)}
    env["PTXSEG_SERVER_TOKEN"] = ptxseg_server_token
    env.pop("PYTHONPATH", None)  # the server's packages (numpy<2) must not leak into the numpy 2 environment
    command = [str(python), "-m", "pytest", "-c", str(TIER_DIR / "pytest.ini"), str(TIER_DIR), f"--basetemp={tmp_path}"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=TIER_TIMEOUT_S, cwd=REPO_ROOT)
    print(result.stdout[-20000:], result.stderr[-5000:])
    assert result.returncode == 0, f"slicer-core tier failed:\n{result.stdout[-8000:]}\n{result.stderr[-3000:]}"
