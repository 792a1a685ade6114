"""read_cxr / write_label: orientation, windowing, spacing and ITK geometry for every supported format."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.pixel_data_handlers.util import convert_color_space
from pydicom.uid import JPEG2000Lossless, JPEGLosslessSV1

import ptxseg.io
from ptxseg.image import CXRReadError
from ptxseg.io.labels import read_label, write_label
from ptxseg.io.reader import SUPPORTED_SUFFIXES, image_id, read_cxr
from tests.support.io_fixtures import (
    BRIGHT_CORNER,
    DARK_CORNER,
    IMAGE_SHAPE,
    PATIENT_NAME,
    marker_array,
    off_centre_mask,
    write_dicom,
    write_itk,
    write_pillow,
)

OBLIQUE_DICOM_TAGS = {"ImagePositionPatient": [-100.0, 50.0, 20.0], "ImageOrientationPatient": [0, 1, 0, 0, 0, -1]}
GEOMETRY_3D = {"origin": (5.0, -7.5, 3.0), "spacing": (0.3, 0.2, 2.5), "direction": (0, 0, 1, 1, 0, 0, 0, 1, 0)}


def _rgba_with_transparent_marker():
    grey = marker_array()
    alpha = np.full(IMAGE_SHAPE, 255, np.uint8)
    alpha[BRIGHT_CORNER] = 0  # luminance must ignore alpha: the marker stays bright
    return np.dstack([grey, grey, grey, alpha])


FORMATS = {
    "dicom_12bit": lambda d: write_dicom(
        d / "a.dcm", marker_array(4000, np.uint16), bits_stored=12, **OBLIQUE_DICOM_TAGS
    ),
    "dicom_8bit": lambda d: write_dicom(d / "a.dcm", marker_array()),
    "dicom_jpeg2000": lambda d: write_dicom(
        d / "a.dcm", marker_array(4000, np.uint16), bits_stored=12, transfer_syntax=JPEG2000Lossless
    ),
    "dicom_jpeg_lossless": lambda d: write_dicom(
        d / "a.dcm", marker_array(4000, np.uint16), transfer_syntax=JPEGLosslessSV1, **OBLIQUE_DICOM_TAGS
    ),
    "dicom_zero_spacing": lambda d: write_dicom(d / "a.dcm", marker_array(), PixelSpacing=[0, 0]),
    "dicom_negative_spacing": lambda d: write_dicom(d / "a.dcm", marker_array(), PixelSpacing=[-0.2, -0.3]),
    "dicom_without_suffix": lambda d: write_dicom(d / "1.2.3.45", marker_array()),
    "png_8bit": lambda d: write_pillow(d / "a.png", marker_array()),
    "png_16bit": lambda d: write_pillow(d / "a.png", marker_array(4000, np.uint16)),
    "png_rgb": lambda d: write_pillow(d / "a.png", marker_array(), mode="RGB"),
    "png_rgba": lambda d: write_pillow(d / "a.png", _rgba_with_transparent_marker()),
    "png_palette": lambda d: write_pillow(d / "a.png", marker_array(), mode="P"),
    "jpeg": lambda d: write_pillow(d / "a.jpg", marker_array(), quality=95),
    "bmp": lambda d: write_pillow(d / "a.bmp", marker_array()),
    "tiff_16bit_300dpi": lambda d: write_pillow(d / "a.tif", marker_array(4000, np.uint16), dpi=(300, 300)),
    "nifti_2d": lambda d: write_itk(d / "a.nii.gz", marker_array(4000, np.uint16)),
    "nifti_single_slice": lambda d: write_itk(d / "a.nii", marker_array()[np.newaxis], **GEOMETRY_3D),
    "nrrd_2d": lambda d: write_itk(d / "a.nrrd", marker_array(4000, np.uint16)),
    "nrrd_single_slice": lambda d: write_itk(d / "a.nrrd", marker_array()[np.newaxis], **GEOMETRY_3D),
    "nhdr_single_slice": lambda d: write_itk(d / "a.nhdr", marker_array()[np.newaxis], **GEOMETRY_3D),
}
DEFAULT_GEOMETRY_FORMATS = ["png_8bit", "png_16bit", "png_rgb", "png_rgba", "png_palette", "jpeg", "bmp"]


def _assert_same_itk_grid(written: sitk.Image, reference: sitk.Image, tolerance: float = 0.0) -> None:
    assert written.GetDimension() == reference.GetDimension()
    assert written.GetSize() == reference.GetSize()
    for getter in ("GetOrigin", "GetSpacing", "GetDirection"):
        np.testing.assert_allclose(getattr(written, getter)(), getattr(reference, getter)(), rtol=0, atol=tolerance)


@pytest.mark.parametrize("build", FORMATS.values(), ids=FORMATS.keys())
def test_reads_marker_upper_left_as_displayed(tmp_path, build):
    pixels = read_cxr(build(tmp_path)).pixels

    assert pixels.shape == IMAGE_SHAPE and pixels.dtype == np.float32
    assert pixels[BRIGHT_CORNER].mean() > 0.95
    assert pixels[DARK_CORNER].mean() < 0.05
    assert pixels[16, 20] == pytest.approx(0.25, abs=0.01)  # 63/255 for 8 bit; 1000 of 0..4000 windowed


@pytest.mark.parametrize("build", FORMATS.values(), ids=FORMATS.keys())
def test_geometry_equals_simpleitk_read(tmp_path, build):
    path = build(tmp_path)
    geometry = read_cxr(path).geometry
    reference = sitk.ReadImage(str(path))
    dimension = reference.GetDimension()

    assert geometry.dimension == dimension
    assert geometry.origin == (*reference.GetOrigin(), *(0.0,) * (3 - dimension))
    assert geometry.spacing == (*reference.GetSpacing(), *(1.0,) * (3 - dimension))
    direction = np.array(geometry.direction).reshape(3, 3)
    assert tuple(direction[:dimension, :dimension].ravel()) == reference.GetDirection()


@pytest.mark.parametrize("label_suffix", [".nrrd", ".nii.gz"])
@pytest.mark.parametrize("build", FORMATS.values(), ids=FORMATS.keys())
def test_label_lands_on_the_same_pixels_and_grid(tmp_path, build, label_suffix):
    path = build(tmp_path)
    label_path = write_label(off_centre_mask(), like=read_cxr(path), path=tmp_path / f"label{label_suffix}")

    written = sitk.ReadImage(str(label_path))
    np.testing.assert_array_equal(np.squeeze(sitk.GetArrayFromImage(written)), off_centre_mask())
    assert written.GetPixelID() == sitk.sitkUInt8
    _assert_same_itk_grid(written, sitk.ReadImage(str(path)), tolerance=1e-6 if label_suffix == ".nii.gz" else 0.0)


@pytest.mark.parametrize("name", DEFAULT_GEOMETRY_FORMATS)
def test_png_label_for_plain_raster_images(tmp_path, name):
    path = FORMATS[name](tmp_path)
    label_path = write_label(off_centre_mask(), like=read_cxr(path), path=tmp_path / "label.png")

    written = sitk.ReadImage(str(label_path))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(written), off_centre_mask())
    _assert_same_itk_grid(written, sitk.ReadImage(str(path)))


@pytest.mark.parametrize("name", ["dicom_8bit", "tiff_16bit_300dpi", "nrrd_2d"])
def test_png_label_refused_where_png_would_lose_the_geometry(tmp_path, name):
    image = read_cxr(FORMATS[name](tmp_path))
    with pytest.raises(ValueError, match=r"PNG cannot store.*label\.nrrd"):
        write_label(off_centre_mask(), like=image, path=tmp_path / "label.png")


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


def test_percentile_window_of_12_bit_data_in_16_bit_png(tmp_path):
    values = np.full(IMAGE_SHAPE, 1000, np.uint16)
    values[BRIGHT_CORNER], values[DARK_CORNER] = 4095, 50
    values[0, -1] = 65535  # one hot pixel (< 0.5 %) must not set the window
    pixels = read_cxr(write_pillow(tmp_path / "p16.png", values)).pixels

    assert pixels[BRIGHT_CORNER].min() == 1.0 and pixels[DARK_CORNER].max() == 0.0
    assert pixels[16, 20] == pytest.approx((1000 - 50) / (4095 - 50))


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


def test_rgb_png_grey_is_bt601_luminance(tmp_path):
    primaries = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]]], dtype=np.uint8)
    pixels = read_cxr(write_pillow(tmp_path / "rgb.png", primaries)).pixels
    np.testing.assert_allclose(pixels, [[0.299, 0.587, 0.114, 1.0]], atol=1e-6)


def test_zero_spacing_is_one_mm_in_spacing_and_in_itk_geometry(tmp_path):
    # ITK (so Slicer) shows a zero Pixel Spacing as 1.0 mm; labels follow ITK's grid (round trip: FORMATS above).
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


def test_degenerate_images_read_without_crash(tmp_path):
    one_pixel = read_cxr(write_dicom(tmp_path / "1.dcm", np.array([[7]], np.uint16)))
    assert one_pixel.shape == (1, 1) and one_pixel.pixels[0, 0] == 0.0
    assert any("constant" in warning for warning in one_pixel.warnings)
    assert read_cxr(write_pillow(tmp_path / "1.png", np.array([[255]], np.uint8))).pixels.tolist() == [[1.0]]


def test_non_finite_pixels_are_shown_dark_with_warning(tmp_path):
    values = marker_array(4000, np.uint16).astype(np.float32)
    values[5, 5] = np.nan
    image = read_cxr(write_itk(tmp_path / "f.nrrd", values))  # NRRD keeps NaN; ITK's NIfTI reader zeroes it
    assert np.isfinite(image.pixels).all() and image.pixels[5, 5] == 0.0
    assert any("NaN" in warning for warning in image.warnings)


def test_exif_orientation_is_ignored_like_itk_with_warning(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees"
    image = read_cxr(write_pillow(tmp_path / "r.jpg", marker_array(), exif=exif))
    assert image.shape == IMAGE_SHAPE and image.pixels[BRIGHT_CORNER].mean() > 0.95
    assert any("EXIF orientation 6" in warning for warning in image.warnings)


def _bomb_png(side: int) -> bytes:
    """A 65-byte PNG whose header claims side x side pixels; its (empty) data would never decode.

    Pillow itself refuses 30000 x 30000 (twice its own limit) at open; 12000 x 12000 only makes it warn, so
    there ptxseg's MAX_PIXELS is what refuses.
    """

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def _truncated_dicom(directory):
    path = write_dicom(directory / "t.dcm", marker_array(4000, np.uint16))
    path.write_bytes(path.read_bytes()[:-1000])
    return path


def _dicom_without_pixel_data(directory):
    path = write_dicom(directory / "n.dcm", marker_array())
    dataset = pydicom.dcmread(path)
    del dataset.PixelData
    dataset.save_as(path)
    return path


def _two_page_tiff(directory):
    path = directory / "m.tif"
    Image.fromarray(marker_array()).save(path, save_all=True, append_images=[Image.fromarray(marker_array())])
    return path


def _text_file(name):
    def build(directory):
        path = directory / name
        path.write_text("not an image\n")
        return path

    return build


def _bytes_file(name, content):
    def build(directory):
        path = directory / name
        path.write_bytes(content)
        return path

    return build


def _nrrd_header_only(directory):
    path = directory / "bomb.nhdr"
    path.write_text("NRRD0004\ntype: uint8\ndimension: 2\nsizes: 30000 30000\nencoding: raw\ndata file: bomb.raw\n\n")
    (directory / "bomb.raw").write_bytes(bytes(4))  # 4 bytes where the header claims 900 million
    return path


BAD_INPUTS = {
    "missing": (lambda d: d / "absent.dcm", "no such file"),
    "empty_dicom": (_bytes_file("e.dcm", b""), "empty"),
    "empty_png": (_bytes_file("e.png", b""), "empty"),
    "truncated_dicom_pixels": (_truncated_dicom, "truncated"),
    "truncated_dicom_header": (lambda d: _bytes_file("h.dcm", _truncated_dicom(d).read_bytes()[:300])(d), "Pixel Data"),
    "dicom_without_pixel_data": (_dicom_without_pixel_data, "without Pixel Data"),
    "text_as_dicom": (_text_file("t.dcm"), "not a valid DICOM"),
    "text_as_png": (_text_file("t.png"), "cannot identify"),
    "text_as_jpeg": (_text_file("t.jpg"), "cannot identify"),
    "text_as_nifti": (_text_file("t.nii.gz"), "ITK"),
    "text_as_nrrd": (_text_file("t.nrrd"), "ITK"),
    "truncated_png": (lambda d: _bytes_file("t.png", FORMATS["png_8bit"](d).read_bytes()[:60])(d), "truncated"),
    "unsupported_suffix": (_text_file("notes.txt"), "supported suffixes: .dcm, .dicom, .png"),
    "multi_frame_dicom": (
        lambda d: write_dicom(d / "mf.dcm", np.vstack([marker_array()] * 2), NumberOfFrames=2, Rows=32),
        "2 frames",
    ),
    "multi_slice_nifti": (
        lambda d: write_itk(d / "v.nii.gz", np.stack([marker_array()] * 3), **GEOMETRY_3D),
        "3 slice",
    ),
    "multi_page_tiff": (_two_page_tiff, "2 frames or pages"),
    "rgb_nrrd": (lambda d: write_itk(d / "c.nrrd", np.dstack([marker_array()] * 3), is_vector=True), "3 components"),
    "bomb_png": (_bytes_file("bomb.png", _bomb_png(30000)), "decompression bomb"),
    "bomb_png_under_pillow_limit": (
        _bytes_file("bomb.png", _bomb_png(12000)),
        "12000 x 12000 pixels exceeds MAX_PIXELS",
    ),
    "bomb_dicom_header": (
        lambda d: write_dicom(d / "bomb.dcm", np.zeros((2, 2), np.uint8), Rows=30000, Columns=30000),
        "MAX_PIXELS",
    ),
    "bomb_nrrd_header": (_nrrd_header_only, "MAX_PIXELS"),
}


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize(("build", "reason"), BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_input_raises_read_error_naming_file_and_reason(tmp_path, build, reason):
    path = build(tmp_path)
    with pytest.raises(CXRReadError, match=reason) as caught:
        read_cxr(path)
    assert str(path) in str(caught.value)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("name", ["dicom_8bit", "png_8bit", "jpeg", "nrrd_2d", "nifti_single_slice"])
def test_pixel_limit_is_checked_for_every_format(tmp_path, monkeypatch, name):
    path = FORMATS[name](tmp_path)
    monkeypatch.setattr(ptxseg.io.reader, "MAX_PIXELS", 32 * 40 - 1)
    with pytest.raises(CXRReadError, match=r"32 x 40 pixels exceeds MAX_PIXELS=1279"):
        read_cxr(path)
    monkeypatch.setattr(ptxseg.io.reader, "MAX_PIXELS", 32 * 40)
    assert read_cxr(path).shape == IMAGE_SHAPE


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "1.2.276.0.7230010.3.1.4.8323329.12671.1517875241.63757.dcm",
            "1.2.276.0.7230010.3.1.4.8323329.12671.1517875241.63757",
        ),
        ("1.2.3.45", "1.2.3.45"),
        ("data/case7.nii.gz", "case7"),
        ("CASE7.NII.GZ", "CASE7"),
        ("scan.nii", "scan"),
        ("12.1.img.png", "12.1.img"),
        ("a.nrrd", "a"),
        ("x.DCM", "x"),
        ("notes.txt", "notes.txt"),
        (".png", ".png"),
    ],
)
def test_image_id(name, expected):
    assert image_id(name) == expected


def test_supported_suffixes_cover_every_format_built_here():
    assert {".dcm", ".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".nii", ".nii.gz", ".nrrd", ".nhdr"} <= set(
        SUPPORTED_SUFFIXES
    )


def test_write_label_multi_class_float_and_bool_masks(tmp_path):
    image = read_cxr(FORMATS["nrrd_2d"](tmp_path))
    classes = off_centre_mask() * 3
    for mask in (classes, classes.astype(np.float32), classes.astype(np.int64)):
        written = sitk.ReadImage(str(write_label(mask, like=image, path=tmp_path / "l.nrrd")))
        np.testing.assert_array_equal(sitk.GetArrayFromImage(written), classes)
    written = sitk.ReadImage(str(write_label(off_centre_mask() > 0, like=image, path=tmp_path / "b.nrrd")))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(written), off_centre_mask())


@pytest.mark.parametrize(
    ("mask", "message"),
    [
        (np.zeros((40, 32), np.uint8), r"mask shape \(40, 32\) differs from the image shape \(32, 40\)"),
        (np.full(IMAGE_SHAPE, 0.5), "non-integer"),
        (np.full(IMAGE_SHAPE, np.nan), "non-integer"),
        (np.full(IMAGE_SHAPE, -1), "0..255"),
        (np.full(IMAGE_SHAPE, 256), "0..255"),
        (np.zeros((1, *IMAGE_SHAPE), np.uint8), "2-D"),
        (np.full(IMAGE_SHAPE, "a"), "not a label type"),
    ],
)
def test_write_label_rejects_bad_masks(tmp_path, mask, message):
    image = read_cxr(FORMATS["png_8bit"](tmp_path))
    with pytest.raises(ValueError, match=message):
        write_label(mask, like=image, path=tmp_path / "l.nrrd")
    assert not (tmp_path / "l.nrrd").exists()


def test_write_label_rejects_unsupported_suffix_and_missing_folder(tmp_path):
    image = read_cxr(FORMATS["png_8bit"](tmp_path))
    with pytest.raises(ValueError, match=r"\.nrrd, \.nii\.gz, \.nii, \.png"):
        write_label(off_centre_mask(), like=image, path=tmp_path / "l.jpg")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_label(off_centre_mask(), like=image, path=tmp_path / "absent" / "l.nrrd")


def test_write_label_is_atomic(tmp_path, monkeypatch):
    image = read_cxr(FORMATS["nrrd_2d"](tmp_path))
    target = write_label(off_centre_mask(), like=image, path=tmp_path / "l.nrrd")
    before = target.read_bytes()
    files_before = set(tmp_path.iterdir())

    def crash_mid_write(itk_image, file_name, *args, **kwargs):
        with open(file_name, "wb") as half_written:
            half_written.write(b"NRRD0004\n")
        raise RuntimeError("disk full")

    monkeypatch.setattr(ptxseg.io.labels.sitk, "WriteImage", crash_mid_write)
    with pytest.raises(RuntimeError, match="disk full"):
        write_label(np.zeros(IMAGE_SHAPE, np.uint8), like=image, path=target)
    assert target.read_bytes() == before
    assert set(tmp_path.iterdir()) == files_before  # no temporary file left behind


def test_read_label_round_trips_and_checks_the_grid(tmp_path):
    image = read_cxr(write_dicom(tmp_path / "img.dcm", marker_array(), PixelSpacing=[0.2, 0.2]))
    mask = off_centre_mask()
    written = write_label(mask, like=image, path=tmp_path / "img.nrrd")
    assert np.array_equal(read_label(written, like=image) != 0, mask)
    other = read_cxr(write_dicom(tmp_path / "other.dcm", marker_array(), PixelSpacing=[0.5, 0.25]))
    with pytest.raises(ValueError, match="grid"):
        read_label(written, like=other)
    transposed = tmp_path / "t.nrrd"
    sitk.WriteImage(sitk.GetImageFromArray(mask.T.astype(np.uint8)), str(transposed))
    with pytest.raises(ValueError, match="shape"):
        read_label(transposed, like=image)


def test_patient_orientation_is_kept_for_the_side_of_a_finding(tmp_path):
    mirrored = read_cxr(write_dicom(tmp_path / "m.dcm", marker_array(), PatientOrientation=["R", "F"]))
    assert mirrored.metadata["patient_orientation"] == ["R", "F"]
    plain = read_cxr(write_dicom(tmp_path / "p.dcm", marker_array()))
    assert plain.metadata["patient_orientation"] == []
