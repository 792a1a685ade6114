"""The image as the model sees it: MONOCHROME1 shown inverted, the file's window applied."""

import numpy as np
from PneumothoraxAnnotatorLib.display import display_settings
from PneumothoraxAnnotatorLib.mrml import volumes

from conftest import open_image


def test_monochrome1_is_inverted_with_the_files_window(images, client, volumes_logic, tmp_path):
    path = client.download_image(images["monochrome1"], tmp_path)
    volume, _ = open_image(volumes_logic, path)
    volumes.apply_display(volume, display_settings(path))
    display = volume.GetDisplayNode()
    assert display.GetColorNodeID() == volumes.INVERTED_GREY_ID
    assert not display.GetAutoWindowLevel()
    assert (display.GetLevel(), display.GetWindow()) == (1500.0, 2000.0)


def test_a_dicom_without_window_gets_the_models_percentile_window(images, client, volumes_logic, tmp_path):
    path = client.download_image(images["siim"], tmp_path)
    volume, _ = open_image(volumes_logic, path)
    settings = display_settings(path)
    volumes.apply_display(volume, settings)
    display = volume.GetDisplayNode()
    assert display.GetColorNodeID() == volumes.GREY_ID
    if settings.window is None:
        low, high = np.percentile(volumes.voxels(volume), [0.5, 99.5])
        assert abs(display.GetWindow() - (high - low)) < 1e-3
