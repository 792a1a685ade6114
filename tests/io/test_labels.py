"""write_label / read_label: a label lands on its image's own pixels and ITK grid, atomically, checked on reading."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

import ptxseg.io
from ptxseg.io.labels import read_label, write_label
from ptxseg.io.reader import read_cxr
from tests.support.io_fixtures import (
    DEFAULT_GEOMETRY_FORMATS,
    FORMATS,
    IMAGE_SHAPE,
    marker_array,
    off_centre_mask,
    write_dicom,
)


def _assert_same_itk_grid(written: sitk.Image, reference: sitk.Image, tolerance: float = 0.0) -> None:
    assert written.GetDimension() == reference.GetDimension()
    assert written.GetSize() == reference.GetSize()
    for getter in ("GetOrigin", "GetSpacing", "GetDirection"):
        np.testing.assert_allclose(getattr(written, getter)(), getattr(reference, getter)(), rtol=0, atol=tolerance)


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
