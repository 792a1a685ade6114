"""Phantom writers: quantisation, anonymous minimal DICOM, 8/16-bit PNG, each read back by ptxseg.io.reader."""

import numpy as np
import pydicom
import pytest
from PIL import Image

from ptxseg.io.reader import read_cxr
from ptxseg.io.writers import quantize, write_dicom, write_png


def _gradient(rows: int = 5, columns: int = 7) -> np.ndarray:
    return np.linspace(0.0, 1.0, rows * columns).reshape(rows, columns)


def test_quantize_rounds_and_clips_to_the_bit_depth():
    assert quantize(np.array([[-0.5, 0.0, 0.5, 1.0, 2.0]]), bits=8).tolist() == [[0, 0, 128, 255, 255]]
    twelve = quantize(np.array([[0.5, 1.0]]), bits=12)
    assert twelve.dtype == np.uint16 and twelve.tolist() == [[2048, 4095]]
    with pytest.raises(ValueError, match="1..16"):
        quantize(np.zeros((2, 2)), bits=17)


@pytest.mark.parametrize(("bits", "dtype"), [(8, np.uint8), (12, np.uint16), (16, np.uint16)])
def test_dicom_reads_back_with_the_written_pixels_spacing_and_orientation(tmp_path, bits, dtype):
    pixels = quantize(_gradient(), bits)
    path = write_dicom(pixels, tmp_path / "p.dcm", (0.3, 0.4), bits_stored=bits, sop_instance_uid="1.2.3.4")
    dataset = pydicom.dcmread(path)
    np.testing.assert_array_equal(dataset.pixel_array, pixels)
    assert dataset.pixel_array.dtype == dtype and dataset.BitsStored == bits and dataset.HighBit == bits - 1
    image = read_cxr(path)
    # The window written with the file displays value v as v / (2**bits - 1), so the (non-square, row-major)
    # gradient comes back value for value: a transposed or flipped read could not match it.
    np.testing.assert_allclose(image.pixels, pixels / (2**bits - 1), atol=1e-6)
    assert image.spacing == (0.3, 0.4) and image.geometry.spacing[:2] == pytest.approx((0.4, 0.3))


def test_dicom_identifies_no_person_and_derives_its_uids_from_the_instance_uid(tmp_path):
    first = pydicom.dcmread(write_dicom(quantize(_gradient()), tmp_path / "a.dcm", sop_instance_uid="1.2.3.4"))
    again = pydicom.dcmread(write_dicom(quantize(_gradient()), tmp_path / "b.dcm", sop_instance_uid="1.2.3.4"))
    assert str(first.PatientName) == "PHANTOM^1"
    for keyword in ("PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "AccessionNumber"):
        assert first.get(keyword) == ""
    assert (first.SOPInstanceUID, first.file_meta.MediaStorageSOPInstanceUID) == ("1.2.3.4", "1.2.3.4")
    assert first.StudyInstanceUID == again.StudyInstanceUID != first.SeriesInstanceUID
    assert (first.Modality, first.ViewPosition, first.PhotometricInterpretation) == ("CR", "PA", "MONOCHROME2")
    assert list(first.PatientOrientation) == ["L", "F"]
    other = pydicom.dcmread(write_dicom(quantize(_gradient()), tmp_path / "c.dcm", modality="DX", patient_number=7))
    assert other.SOPInstanceUID != first.SOPInstanceUID and str(other.PatientName) == "PHANTOM^7"
    assert other.SOPClassUID == "1.2.840.10008.5.1.4.1.1.1.1"


@pytest.mark.parametrize(
    ("pixels", "kwargs", "message"),
    [
        (np.zeros((4, 4), np.float32), {}, "uint8 or uint16"),
        (np.zeros((2, 4, 4), np.uint8), {}, "2-D"),
        (np.full((4, 4), 300, np.uint16), {"bits_stored": 8}, "cannot hold"),
        (np.zeros((4, 4), np.uint8), {"modality": "CT"}, "'CR', 'DX'"),
        (np.zeros((4, 4), np.uint8), {"spacing_mm": (0.0, 1.0)}, "positive"),
    ],
)
def test_dicom_rejects_bad_input(tmp_path, pixels, kwargs, message):
    with pytest.raises(ValueError, match=message):
        write_dicom(pixels, tmp_path / "x.dcm", **kwargs)


@pytest.mark.parametrize(("pixels", "mode"), [(quantize(_gradient(), 8), "L"), (quantize(_gradient(), 16), "I;16")])
def test_png_keeps_8_and_16_bit_values(tmp_path, pixels, mode):
    image = Image.open(write_png(pixels, tmp_path / "p.png"))
    assert image.mode == mode
    np.testing.assert_array_equal(np.asarray(image), pixels)


def test_png_writes_a_bool_mask_as_0_255_in_place(tmp_path):
    mask = np.zeros((6, 4), dtype=bool)
    mask[1, 3] = True
    written = np.asarray(Image.open(write_png(mask, tmp_path / "m.png")))
    assert written.dtype == np.uint8 and written[1, 3] == 255 and written.sum() == 255
    with pytest.raises(ValueError, match="bool, uint8 or uint16"):
        write_png(np.zeros((3, 3), np.int32), tmp_path / "bad.png")
