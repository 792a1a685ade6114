"""NIfTI/NRRD volumes read through ITK: non-finite pixels."""

from __future__ import annotations

import numpy as np

from ptxseg.io.reader import read_cxr
from tests.support.io_fixtures import (
    marker_array,
    write_itk,
)


def test_non_finite_pixels_are_shown_dark_with_warning(tmp_path):
    values = marker_array(4000, np.uint16).astype(np.float32)
    values[5, 5] = np.nan
    image = read_cxr(write_itk(tmp_path / "f.nrrd", values))  # NRRD keeps NaN; ITK's NIfTI reader zeroes it
    assert np.isfinite(image.pixels).all() and image.pixels[5, 5] == 0.0
    assert any("NaN" in warning for warning in image.warnings)
