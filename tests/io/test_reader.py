"""read_cxr's dispatch over every format: orientation, ITK geometry, clear errors for bad files, image ids."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from PIL import Image

import ptxseg.io
from ptxseg.image import CXRReadError
from ptxseg.io.reader import SUPPORTED_SUFFIXES, image_id, read_cxr
from tests.support.io_fixtures import (
    BRIGHT_CORNER,
    DARK_CORNER,
    FORMATS,
    GEOMETRY_3D,
    IMAGE_SHAPE,
    marker_array,
    write_dicom,
    write_itk,
    write_pillow,
)


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


def test_degenerate_images_read_without_crash(tmp_path):
    one_pixel = read_cxr(write_dicom(tmp_path / "1.dcm", np.array([[7]], np.uint16)))
    assert one_pixel.shape == (1, 1) and one_pixel.pixels[0, 0] == 0.0
    assert any("constant" in warning for warning in one_pixel.warnings)
    assert read_cxr(write_pillow(tmp_path / "1.png", np.array([[255]], np.uint8))).pixels.tolist() == [[1.0]]


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
