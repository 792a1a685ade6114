"""DICOM as a viewer shows it: MONOCHROME1, Modality LUT and VOI windows, pixel spacing, colour, anonymous metadata."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.dataset import Dataset
from pydicom.pixel_data_handlers.util import convert_color_space

from ptxseg.io.reader import read_cxr
from tests.support.io_fixtures import (
    BRIGHT_CORNER,
    FORMATS,
    PATIENT_NAME,
    marker_array,
    write_dicom,
)


def test_monochrome1_reads_as_inverse_of_its_monochrome2_twin(tmp_path):
    stored = marker_array(4000, np.uint16)
    stored[10:20, 10:30] = np.arange(200, dtype=np.uint16).reshape(10, 20) * 20  # a ramp, not just 3 levels
    mono2 = read_cxr(write_dicom(tmp_path / "m2.dcm", stored, bits_stored=12)).pixels
    mono1 = read_cxr(write_dicom(tmp_path / "m1.dcm", stored, bits_stored=12, photometric="MONOCHROME1")).pixels

    np.testing.assert_allclose(mono1, 1.0 - mono2, atol=1e-6)
    assert mono1[BRIGHT_CORNER].max() == 0.0  # highest stored value is black on a MONOCHROME1 film


def test_16bit_rescale_then_window_as_computed_by_hand(tmp_path):
    # Stored 0, 387, 512, 637, 1000 -> slope 2, intercept -1024 -> -1024, -250, 0, 250, 976.
    # LINEAR window c=0.5 w=1001 (PS3.3 C.11.2.1.2): y = (x - 0) / 1000 + 0.5, clipped -> 0, .25, .5, .75, 1.
    stored = np.array([[0, 387, 512, 637, 1000]], dtype=np.uint16)
    path = write_dicom(
        tmp_path / "ct.dcm", stored, RescaleSlope=2, RescaleIntercept=-1024, WindowCenter=0.5, WindowWidth=1001
    )
    image = read_cxr(path)

    np.testing.assert_allclose(image.pixels, [[0.0, 0.25, 0.5, 0.75, 1.0]], atol=1e-6)
    assert image.metadata["windowing"] == "LINEAR window center 0.5 width 1001"


def test_first_of_several_windows_is_used(tmp_path):
    stored = np.array([[0, 100, 200]], dtype=np.uint16)
    path = write_dicom(tmp_path / "w.dcm", stored, WindowCenter=[100.5, 5000], WindowWidth=[201, 10])
    np.testing.assert_allclose(read_cxr(path).pixels, [[0.0, 0.5, 1.0]], atol=1e-6)


@pytest.mark.parametrize(
    ("function", "width", "stored", "expected"),
    [
        # LINEAR_EXACT: (x - c) / w + 0.5, clipped.
        ("LINEAR_EXACT", 100, [0, 75, 100, 200], [0.0, 0.25, 0.5, 1.0]),
        # SIGMOID: 1 / (1 + exp(-4 (x - c) / w)).
        ("SIGMOID", 100, [0, 50, 100, 150], [1 / (1 + np.exp(4)), 1 / (1 + np.exp(2)), 0.5, 1 / (1 + np.exp(-2))]),
        # LINEAR with width 1 is a step: black up to c - 0.5, white above.
        ("LINEAR", 1, [0, 99, 100, 200], [0.0, 0.0, 1.0, 1.0]),
    ],
)
def test_voi_lut_functions(tmp_path, function, width, stored, expected):
    stored = np.array([stored], dtype=np.uint16)
    path = write_dicom(tmp_path / "f.dcm", stored, WindowCenter=100, WindowWidth=width, VOILUTFunction=function)
    np.testing.assert_allclose(read_cxr(path).pixels, [expected], atol=1e-6)


def test_voi_lut_sequence_applied_and_scaled_by_its_bit_depth(tmp_path):
    lut = Dataset()
    lut.add_new("LUTDescriptor", "US", [4, 10, 8])  # 4 entries, first input value 10, 8-bit output
    lut.add_new("LUTData", "US", [0, 51, 102, 255])
    stored = np.array([[0, 10, 11, 12, 13, 500]], dtype=np.uint16)  # below / on / past the table
    path = write_dicom(tmp_path / "lut.dcm", stored, VOILUTSequence=[lut], WindowCenter=1, WindowWidth=1)

    image = read_cxr(path)
    np.testing.assert_allclose(image.pixels, [[0.0, 0.0, 0.2, 0.4, 1.0, 1.0]], atol=1e-6)
    assert image.metadata["windowing"] == "VOI LUT"


def test_unusable_window_falls_back_to_percentile_with_a_warning(tmp_path):
    path = write_dicom(tmp_path / "w0.dcm", marker_array(4000, np.uint16), WindowCenter=100, WindowWidth=0)
    image = read_cxr(path)
    assert image.pixels[16, 20] == pytest.approx(0.25)
    assert any("window ignored" in warning and "below 1" in warning for warning in image.warnings)


@pytest.mark.parametrize(
    ("tags", "spacing", "warning"),
    [
        ({"PixelSpacing": [0.2, 0.3]}, (0.2, 0.3), None),
        ({"PixelSpacing": None, "ImagerPixelSpacing": [0.15, 0.16]}, (0.15, 0.16), "Imager Pixel Spacing"),
        ({"PixelSpacing": None, "NominalScannedPixelSpacing": [0.25, 0.26]}, (0.25, 0.26), None),
        ({"PixelSpacing": None}, (1.0, 1.0), "pixel spacing unknown"),
        ({"PixelSpacing": [0, 0]}, (1.0, 1.0), "pixel spacing unknown"),
        ({"PixelSpacing": [0.2, 0]}, (1.0, 1.0), "pixel spacing unknown"),
        ({"PixelSpacing": [-0.2, -0.3]}, (1.0, 1.0), "pixel spacing unknown"),
        ({"PixelSpacing": [0, 0], "ImagerPixelSpacing": [0.15, 0.16]}, (0.15, 0.16), "PixelSpacing [0.0, 0.0]"),
    ],
)
def test_dicom_pixel_spacing(tmp_path, tags, spacing, warning):
    image = read_cxr(write_dicom(tmp_path / "s.dcm", marker_array(), **tags))
    assert image.spacing == spacing
    if warning is None:
        assert image.warnings == []
    else:
        assert any(warning in text for text in image.warnings)


def test_unparseable_pixel_spacing_is_one_mm_with_warning(tmp_path):
    path = write_dicom(tmp_path / "s.dcm", marker_array(), PixelSpacing=[0.2, 0.3])
    # pydicom refuses to write a malformed DS, so patch the value's bytes (same length) in the file.
    path.write_bytes(path.read_bytes().replace(b"0.2\\0.3 ", b"abc\\def "))

    image = read_cxr(path)
    assert image.spacing == (1.0, 1.0)
    assert any("PixelSpacing" in warning for warning in image.warnings)


def test_scanned_film_spacing_agrees_with_itk(tmp_path):
    path = write_dicom(
        tmp_path / "film.dcm", marker_array(), PixelSpacing=None, NominalScannedPixelSpacing=[0.25, 0.26]
    )
    image = read_cxr(path)
    assert image.geometry.spacing == (0.26, 0.25, 1.0) == sitk.ReadImage(str(path)).GetSpacing()


def test_zero_spacing_is_one_mm_in_spacing_and_in_itk_geometry(tmp_path):
    # ITK (so Slicer) shows a zero Pixel Spacing as 1.0 mm; labels follow ITK's grid (round trip: test_labels.py).
    image = read_cxr(FORMATS["dicom_zero_spacing"](tmp_path))
    assert image.geometry.spacing == (1.0, 1.0, 1.0)
    assert image.spacing == (1.0, 1.0)


def test_row_and_column_spacing_are_not_swapped(tmp_path):
    image = read_cxr(write_dicom(tmp_path / "s.dcm", marker_array(), PixelSpacing=[0.2, 0.3]))
    assert image.spacing == (0.2, 0.3)  # (row, column) as DICOM Pixel Spacing lists them
    assert image.geometry.spacing == (0.3, 0.2, 1.0)  # ITK: x (column) first


@pytest.mark.parametrize("photometric", ["RGB", "YBR_FULL"])
def test_colour_dicom_reads_as_grey(tmp_path, photometric):
    rgb = np.dstack([marker_array()] * 3)
    stored = rgb if photometric == "RGB" else convert_color_space(rgb, "RGB", "YBR_FULL")
    pixels = read_cxr(write_dicom(tmp_path / "c.dcm", stored, photometric=photometric)).pixels
    np.testing.assert_allclose(pixels, marker_array() / 255, atol=1.5 / 255)


def test_siim_sample_dicoms(siim_sample):
    paths = sorted((siim_sample / "dicom").glob("*.dcm"))
    assert len(paths) == 7
    for path in paths:
        image = read_cxr(path)
        source = pydicom.dcmread(path)
        reference = sitk.ReadImage(str(path))

        assert image.shape == (1024, 1024)
        row_spacing, column_spacing = (float(value) for value in source.PixelSpacing)
        assert image.spacing == pytest.approx((row_spacing, column_spacing), abs=1e-6)
        assert 0.1 < row_spacing < 0.2  # the sample holds 0.143 (5 files), 0.139 and 0.168 mm
        assert image.pixels.dtype == np.float32 and image.pixels.min() >= 0 and image.pixels.max() <= 1
        assert image.geometry.dimension == reference.GetDimension() == 3
        assert image.geometry.spacing == reference.GetSpacing()
        assert image.geometry.origin == reference.GetOrigin()
        assert image.geometry.direction == reference.GetDirection()
        assert image.metadata["transfer_syntax"].startswith("1.2.840.10008.1.2.4.50")
        assert np.corrcoef(source.pixel_array.ravel(), image.pixels.ravel())[0, 1] > 0.99  # no flip, no inversion
        for identifying in (str(source.PatientName), str(source.PatientID)):
            assert identifying not in str(image.metadata) + str(image.warnings)


def test_metadata_holds_no_identifying_attributes(tmp_path):
    image = read_cxr(write_dicom(tmp_path / "p.dcm", marker_array()))
    assert set(image.metadata) == {
        "path",
        "format",
        "photometric_interpretation",
        "bits_stored",
        "transfer_syntax",
        "view_position",
        "patient_orientation",
        "modality",
        "original_dtype",
        "windowing",
    }
    text = str(image.metadata)
    assert PATIENT_NAME not in text and "Doe" not in text and "SECRET" not in text and "1970" not in text
    assert image.metadata["view_position"] == "PA" and image.metadata["modality"] == "DX"


def test_patient_orientation_is_kept_for_the_side_of_a_finding(tmp_path):
    mirrored = read_cxr(write_dicom(tmp_path / "m.dcm", marker_array(), PatientOrientation=["R", "F"]))
    assert mirrored.metadata["patient_orientation"] == ["R", "F"]
    plain = read_cxr(write_dicom(tmp_path / "p.dcm", marker_array()))
    assert plain.metadata["patient_orientation"] == []
