"""Server labels lie exactly where Slicer shows the image: SIIM DICOM, coronal DICOM off the origin, PNG.

slicer-core 5.12.4.0 ships no ITK PNG reader (its vtkITK has DICOM, NRRD, NIfTI, Meta, no PNGImageIO), so the
PNG case checks the server's label against the grid Slicer's ITK reader gives a PNG without a physical-size
chunk: unit spacing, origin 0, identity direction. Loading the PNG itself is covered by the Slicer self-test.
"""

import struct

import numpy as np
import pytest
from PneumothoraxAnnotatorLib.mrml import labels, volumes

from conftest import open_image


@pytest.mark.parametrize("kind", ["siim", "coronal", "phantom_dicom"])
def test_server_label_is_on_slicers_grid_of_the_image(kind, images, client, volumes_logic, tmp_path):
    image_path = client.download_image(images[kind], tmp_path)
    volume, _ = open_image(volumes_logic, image_path)
    label_path, _ = client.infer(images[kind], tmp_path)
    mask = labels.read_server_label(volumes_logic, label_path, volume)  # raises GridMismatch when off-grid
    assert mask.shape == volumes.image_shape(volume)
    assert set(np.unique(mask)) <= {0, 1}


def test_coronal_dicom_keeps_its_origin_and_direction(images, client, volumes_logic, tmp_path):
    volume, _ = open_image(volumes_logic, client.download_image(images["coronal"], tmp_path))
    matrix = np.asarray(volumes.grid_of(volume).index_to_lps)
    np.testing.assert_allclose(matrix[:3, 3], [-120.5, 33.25, 410.0], atol=1e-4)
    np.testing.assert_allclose(matrix[:3, 1] / np.linalg.norm(matrix[:3, 1]), [0, 0, -1], atol=1e-6)


def test_a_label_on_another_grid_is_refused(images, client, volumes_logic, tmp_path):
    siim, _ = open_image(volumes_logic, client.download_image(images["siim"], tmp_path))
    label_path, _ = client.infer(images["phantom_dicom"], tmp_path)
    with pytest.raises(labels.GridMismatch, match="not on the image's pixel grid"):
        labels.read_server_label(volumes_logic, label_path, siim)


def test_png_label_is_on_the_grid_slicer_gives_a_png(images, client, volumes_logic, tmp_path):
    png = client.download_image(images["png"], tmp_path)
    columns, rows, chunks = _png_header(png.read_bytes())
    assert b"pHYs" not in chunks, "a PNG with a physical pixel size gets that spacing from ITK: not this case"
    label_path, _ = client.infer(images["png"], tmp_path)
    label = volumes.load_volume(volumes_logic, label_path, "png label", label=True)
    grid = volumes.grid_of(label)
    assert grid.size == (columns, rows, 1)
    np.testing.assert_allclose(np.asarray(grid.index_to_lps)[:, [0, 1, 3]], np.eye(4)[:, [0, 1, 3]], atol=1e-6)


def _png_header(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and chunk types of a PNG file (standard library only)."""
    width, height = struct.unpack(">II", data[16:24])
    chunks, offset = [], 8
    while offset < len(data):
        length = struct.unpack(">I", data[offset : offset + 4])[0]
        chunks.append(data[offset + 4 : offset + 8])
        offset += 12 + length
    return width, height, chunks
