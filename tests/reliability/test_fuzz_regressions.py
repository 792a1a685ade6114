"""Each reader bug the fuzzer found (``test_fuzz_readers``), rebuilt as a small file: a clear refusal or a sane image.

Before the fixes: a 9 kB DICOM made GDCM allocate 2.6 GB for 3 s; a Pixel Data length lie or a corrupt encapsulated
item did the same or raised MemoryError; an unknown VR raised NotImplementedError; a TIFF page without dimensions
raised TypeError; a PNG with a short header chunk raised ValueError; a VOI LUT of 27 bits raised
NotImplementedError; a NaN window or Rescale Slope gave NaN pixels.
"""

from __future__ import annotations

import io
import resource
import struct
import zlib

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.sequence import Sequence
from pydicom.uid import JPEGBaseline8Bit

from ptxseg.image import CXRReadError
from ptxseg.io.labels import read_label
from ptxseg.io.reader import read_cxr
from tests.support.io_fixtures import marker_array, write_dicom

# Explicit VR Little Endian element headers with a 4-byte length: tag, VR, two reserved bytes, length.
HUGE_ELEMENT = struct.pack("<HH2sxxI", 0xA6A1, 0x9DA1, b"OB", 0xA2A1A6A1)
UNKNOWN_VR_FRAMES = struct.pack("<HH2sH", 0x0028, 0x0008, b"ZZ", 2) + b"ab"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_trailing_bytes_declaring_gigabytes_are_refused_without_allocating_them(tmp_path):
    path = write_dicom(tmp_path / "a.dcm", marker_array())
    path.write_bytes(path.read_bytes() + HUGE_ELEMENT + b"\x00" * 64)
    before = _peak_rss_mb()
    with pytest.raises(CXRReadError, match=rf"declares {0xA2A1A6A1} bytes in a file of \d+ bytes"):
        read_cxr(path)
    assert _peak_rss_mb() - before < 200


def test_a_pixel_data_length_beyond_the_file_is_refused(tmp_path):
    path = write_dicom(tmp_path / "a.dcm", marker_array())
    content = bytearray(path.read_bytes())
    position = content.rfind(b"\xe0\x7f\x10\x00OB")
    content[position + 8 : position + 12] = struct.pack("<I", 0xFFFFFFF0)
    path.write_bytes(bytes(content))
    with pytest.raises(CXRReadError, match=r"element \(7fe0, 0010\) declares 4294967280 bytes"):
        read_cxr(path)


def test_an_encapsulated_item_longer_than_the_file_is_refused(tmp_path):
    path = write_dicom(tmp_path / "a.dcm", marker_array())
    dataset = pydicom.dcmread(path)
    dataset.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    dataset.PixelData = encapsulate([b"\xff\xd8" + b"\x00" * 100 + b"\xff\xd9"])
    dataset["PixelData"].is_undefined_length = True
    dataset.save_as(path)
    content = bytearray(path.read_bytes())
    first_item = content.rfind(b"\xfe\xff\x00\xe0")
    content[first_item + 4 : first_item + 8] = struct.pack("<I", 1_033_002_024)
    path.write_bytes(bytes(content))
    before = _peak_rss_mb()
    with pytest.raises(CXRReadError, match="encapsulated pixel data is corrupt at byte .* item of 1033002024 bytes"):
        read_cxr(path)
    assert _peak_rss_mb() - before < 200


def test_an_unknown_value_representation_is_a_refusal(tmp_path):
    path = write_dicom(tmp_path / "a.dcm", marker_array())
    path.write_bytes(path.read_bytes() + UNKNOWN_VR_FRAMES)
    with pytest.raises(CXRReadError, match=r"not a valid DICOM file \(NotImplementedError: Unknown Value Repr"):
        read_cxr(path)


def test_a_tiff_page_without_dimensions_is_a_refusal(tmp_path):
    buffer = io.BytesIO()
    Image.fromarray(marker_array()).save(buffer, format="TIFF")
    content = bytearray(buffer.getvalue())
    (ifd,) = struct.unpack_from("<I", content, 4)
    (entries,) = struct.unpack_from("<H", content, ifd)
    # A second page holding only a private tag: Pillow fails on it while counting the pages.
    struct.pack_into("<I", content, ifd + 2 + 12 * entries, len(content))
    content += struct.pack("<HHHII", 1, 0xFDE8, 3, 1, 0) + struct.pack("<I", 0)
    path = tmp_path / "a.tif"
    path.write_bytes(bytes(content))
    with pytest.raises(CXRReadError, match="pages cannot be counted"):
        read_cxr(path)


def test_a_png_with_a_truncated_header_chunk_is_a_refusal(tmp_path):
    buffer = io.BytesIO()
    Image.fromarray(marker_array()).save(buffer, format="PNG")
    content = buffer.getvalue()
    header = content[12:16] + content[16:21]  # "IHDR" and 5 of its 13 bytes, with a valid checksum
    short = content[:8] + struct.pack(">I", 5) + header + struct.pack(">I", zlib.crc32(header)) + content[33:]
    path = tmp_path / "a.png"
    path.write_bytes(short)
    with pytest.raises(CXRReadError, match="Truncated IHDR chunk"):
        read_cxr(path)


def _one_dimensional(path):
    if path.suffix == ".nrrd":
        path.write_bytes(b"NRRD0004\ntype: unsigned char\ndimension: 1\nsizes: 16\nencoding: raw\n\n" + bytes(16))
    else:  # a 2-D NIfTI whose header says 1-D (dim[0] = 1)
        sitk.WriteImage(sitk.GetImageFromArray(np.zeros((1, 16), np.uint8)), str(path))
        content = bytearray(path.read_bytes())
        struct.pack_into("<h", content, 40, 1)
        path.write_bytes(bytes(content))
    return path


@pytest.mark.parametrize("suffix", [".nii", ".nrrd"])
def test_a_one_dimensional_label_or_image_is_a_refusal(tmp_path, suffix):
    path = _one_dimensional(tmp_path / f"a{suffix}")
    for read in (read_cxr, read_label):
        with pytest.raises(CXRReadError, match="1-D image of size"):
            read(path)


def test_a_voi_lut_of_27_bits_falls_back_to_a_percentile_window(tmp_path):
    item = Dataset()
    item.LUTDescriptor = [4, 0, 27]
    item.add_new(0x00283006, "US", [0, 1, 2, 3])  # LUT Data
    path = write_dicom(tmp_path / "a.dcm", marker_array(), VOILUTSequence=Sequence([item]))
    image = read_cxr(path)
    assert 0 <= image.pixels.min() < image.pixels.max() <= 1
    assert any(warning.startswith("VOI LUT ignored (27 bits per LUT entry") for warning in image.warnings)


@pytest.mark.parametrize(
    "tags",
    [{"WindowCenter": "nan", "WindowWidth": "100"}, {"RescaleSlope": "nan", "RescaleIntercept": "0"}],
    ids=["NaN window centre", "NaN rescale slope"],
)
def test_a_nan_in_the_display_pipeline_never_reaches_the_pixels(tmp_path, tags):
    path = write_dicom(tmp_path / "a.dcm", marker_array(), **{"WindowCenter": "128", "WindowWidth": "256", **tags})
    pixels = read_cxr(path).pixels
    assert np.isfinite(pixels).all() and 0 <= pixels.min() and pixels.max() <= 1
