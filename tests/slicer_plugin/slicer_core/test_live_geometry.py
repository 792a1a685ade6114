"""Server labels lie exactly where Slicer shows the image: SIIM DICOM, coronal DICOM off the origin, PNG."""

import numpy as np
import pytest
from PneumothoraxAnnotatorLib.mrml import labels, volumes

from conftest import open_image


@pytest.mark.parametrize("kind", ["siim", "coronal", "png", "phantom_dicom"])
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
