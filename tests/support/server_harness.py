"""The tests' real ptxseg MONAI Label server: studies to serve, small fast settings, and reading its answers.

Starting and stopping the server is the library's ``ptxseg.serving.local_server`` (the benchmarks use it too): every
server runs on a free loopback port over a temporary studies folder and model folder, and is stopped with
everything it started (training and scoring children) when the test is done.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ptxseg.phantom.demo import make_demo_studies
from ptxseg.serving import local_server
from ptxseg.serving.local_server import LocalServer

# Small and fast: 128 px phantoms through a b0 U-Net at 128 px on CPU. The runtimes are not measured for each new
# model (a child process quantising and timing them would load every test's two cores); tests/app/test_app_runtime.py
# checks the measured choice end to end.
TEST_CONF = {
    "image_size": "128",
    "encoder": "efficientnet-b0",
    "batch_size": "4",
    "epochs": "1",
    "measure_runtimes": "false",
}


def training_result(status: dict) -> dict | None:
    """The trainer's ``ptxseg_result`` line from a training status record."""
    for line in status.get("details", []):
        if line.startswith("ptxseg_result: "):
            return json.loads(line[len("ptxseg_result: ") :])
    return None


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
    studies: Path,
    model_dir: Path,
    conf: dict | None = None,
    env: dict | None = None,
    host: str | None = None,
    token: str = "own",
) -> Iterator[LocalServer]:
    """``ptxseg.serving.local_server.running_server`` with the tests' small, fast settings under ``conf``."""
    settings = {**TEST_CONF, **(conf or {})}
    with local_server.running_server(studies, model_dir, settings, env, host, token=token) as server:
        yield server


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
