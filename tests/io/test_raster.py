"""PNG/JPEG/TIFF through Pillow: 16-bit percentile window, BT.601 luminance of colour, EXIF orientation ignored."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ptxseg.io.reader import read_cxr
from tests.support.io_fixtures import (
    BRIGHT_CORNER,
    DARK_CORNER,
    IMAGE_SHAPE,
    marker_array,
    write_pillow,
)


def test_percentile_window_of_12_bit_data_in_16_bit_png(tmp_path):
    values = np.full(IMAGE_SHAPE, 1000, np.uint16)
    values[BRIGHT_CORNER], values[DARK_CORNER] = 4095, 50
    values[0, -1] = 65535  # one hot pixel (< 0.5 %) must not set the window
    pixels = read_cxr(write_pillow(tmp_path / "p16.png", values)).pixels

    assert pixels[BRIGHT_CORNER].min() == 1.0 and pixels[DARK_CORNER].max() == 0.0
    assert pixels[16, 20] == pytest.approx((1000 - 50) / (4095 - 50))


def test_rgb_png_grey_is_bt601_luminance(tmp_path):
    primaries = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]]], dtype=np.uint8)
    pixels = read_cxr(write_pillow(tmp_path / "rgb.png", primaries)).pixels
    np.testing.assert_allclose(pixels, [[0.299, 0.587, 0.114, 1.0]], atol=1e-6)


def test_exif_orientation_is_ignored_like_itk_with_warning(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees"
    image = read_cxr(write_pillow(tmp_path / "r.jpg", marker_array(), exif=exif))
    assert image.shape == IMAGE_SHAPE and image.pixels[BRIGHT_CORNER].mean() > 0.95
    assert any("EXIF orientation 6" in warning for warning in image.warnings)
