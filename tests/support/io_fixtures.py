"""Builders of small test images in every format read_cxr supports, with a known orientation marker.

The test image is 32 x 40 (non-square, so a transpose changes its shape): mid-grey, a bright block in the
upper-left corner and a black block in the lower-right one. Both blocks cover more than 0.5 % of the pixels,
so the percentile window maps them to exactly 1 and 0 and the background to 0.25.
"""

from __future__ import annotations

from pathlib import Path
from tempfile import TemporaryDirectory

import numpy as np
import openjpeg
import pydicom
import SimpleITK as sitk
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLosslessSV1,
    SecondaryCaptureImageStorage,
    generate_uid,
)

__all__ = [
    "BRIGHT_CORNER",
    "DARK_CORNER",
    "DEFAULT_GEOMETRY_FORMATS",
    "FORMATS",
    "GEOMETRY_3D",
    "IMAGE_SHAPE",
    "PATIENT_NAME",
    "marker_array",
    "off_centre_mask",
    "write_dicom",
    "write_itk",
    "write_pillow",
]

IMAGE_SHAPE = (32, 40)
BRIGHT_CORNER = (slice(0, 4), slice(0, 5))
DARK_CORNER = (slice(-4, None), slice(-5, None))
PATIENT_NAME = "Doe^Jane^Secret"


def marker_array(maximum: int = 255, dtype=np.uint8) -> np.ndarray:
    """The 32 x 40 test image: background maximum/4, bright upper-left block, black lower-right block."""
    array = np.full(IMAGE_SHAPE, maximum // 4, dtype=dtype)
    array[BRIGHT_CORNER] = maximum
    array[DARK_CORNER] = 0
    return array


def off_centre_mask() -> np.ndarray:
    """A label block in the upper-left quadrant (rows 2..10, columns 3..12) of the 32 x 40 grid."""
    mask = np.zeros(IMAGE_SHAPE, dtype=np.uint8)
    mask[2:11, 3:13] = 1
    return mask


def write_dicom(
    path: Path,
    pixels: np.ndarray,
    *,
    photometric: str = "MONOCHROME2",
    bits_stored: int | None = None,
    transfer_syntax: str = ExplicitVRLittleEndian,
    **tags,
) -> Path:
    """Write ``pixels`` (2-D uint8/uint16, or H x W x 3 uint8) as a DICOM with identifying patient tags.

    ``tags`` are DICOM keywords set on the dataset after the defaults; ``None`` removes a default (e.g.
    ``PixelSpacing=None``). JPEG 2000 is encoded by pylibjpeg-openjpeg, JPEG-lossless (process 14, SV1) by
    GDCM through SimpleITK.
    """
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = transfer_syntax
    dataset = Dataset()
    dataset.file_meta = meta
    dataset.SOPClassUID = meta.MediaStorageSOPClassUID
    dataset.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    dataset.Modality = "DX"
    dataset.ViewPosition = "PA"
    dataset.PatientName = PATIENT_NAME
    dataset.PatientID = "ID-0042-SECRET"
    dataset.PatientBirthDate = "19700101"
    dataset.Rows, dataset.Columns = pixels.shape[:2]
    dataset.SamplesPerPixel = 3 if pixels.ndim == 3 else 1
    if pixels.ndim == 3:
        dataset.PlanarConfiguration = 0
    dataset.PhotometricInterpretation = photometric
    dataset.BitsAllocated = pixels.dtype.itemsize * 8
    dataset.BitsStored = bits_stored or dataset.BitsAllocated
    dataset.HighBit = dataset.BitsStored - 1
    dataset.PixelRepresentation = 0
    dataset.PixelSpacing = [0.2, 0.3]
    for keyword, value in tags.items():
        if value is None:
            delattr(dataset, keyword)
        else:
            setattr(dataset, keyword, value)
    dataset.PixelData = _encoded_pixel_data(pixels, transfer_syntax, dataset.BitsStored)
    dataset["PixelData"].VR = "OW" if transfer_syntax == ExplicitVRLittleEndian and pixels.itemsize == 2 else "OB"
    dataset.is_little_endian, dataset.is_implicit_VR = True, False
    dataset.save_as(path, write_like_original=False)
    return path


def _encoded_pixel_data(pixels: np.ndarray, transfer_syntax: str, bits_stored: int) -> bytes:
    if transfer_syntax == ExplicitVRLittleEndian:
        return pixels.tobytes()
    if transfer_syntax == JPEG2000Lossless:
        return encapsulate([openjpeg.encode(pixels, bits_stored=bits_stored)])
    if transfer_syntax == JPEGLosslessSV1:
        return _gdcm_jpeg_lossless(pixels)
    raise ValueError(f"no encoder for transfer syntax {transfer_syntax} in these fixtures")


def _gdcm_jpeg_lossless(pixels: np.ndarray) -> bytes:
    """Encapsulated JPEG-lossless SV1 pixel data, taken from a DICOM that GDCM (inside SimpleITK) compressed."""
    with TemporaryDirectory() as folder:
        scratch = Path(folder) / "gdcm.dcm"
        writer = sitk.ImageFileWriter()
        writer.SetFileName(str(scratch))
        writer.SetUseCompression(True)
        writer.SetCompressor("JPEG")  # ITK's GDCMImageIO maps "JPEG" to JPEG-lossless process 14, SV1
        writer.Execute(sitk.GetImageFromArray(pixels))
        compressed = pydicom.dcmread(scratch)
    if compressed.file_meta.TransferSyntaxUID != JPEGLosslessSV1:
        raise RuntimeError(f"GDCM wrote {compressed.file_meta.TransferSyntaxUID}, not JPEG-lossless SV1")
    return compressed.PixelData


def write_pillow(path: Path, pixels: np.ndarray, mode: str | None = None, **save_options) -> Path:
    """Write ``pixels`` through Pillow (format from the suffix), optionally converted to ``mode`` first."""
    image = Image.fromarray(pixels)
    (image.convert(mode) if mode else image).save(path, **save_options)
    return path


def write_itk(
    path: Path,
    pixels: np.ndarray,
    *,
    origin=(5.0, -7.5),
    spacing=(0.3, 0.2),
    direction=(0.0, 1.0, -1.0, 0.0),
    is_vector: bool = False,
) -> Path:
    """Write a 2-D array (or a 3-D one of shape slices x rows x columns) with a non-trivial geometry via SimpleITK.

    With ``is_vector`` the last axis holds the components of one 2-D pixel (e.g. RGB).
    """
    image = sitk.GetImageFromArray(pixels, isVector=is_vector)
    image.SetOrigin(origin)
    image.SetSpacing(spacing)
    image.SetDirection(direction)
    sitk.WriteImage(image, str(path))
    return path


OBLIQUE_DICOM_TAGS = {"ImagePositionPatient": [-100.0, 50.0, 20.0], "ImageOrientationPatient": [0, 1, 0, 0, 0, -1]}
GEOMETRY_3D = {"origin": (5.0, -7.5, 3.0), "spacing": (0.3, 0.2, 2.5), "direction": (0, 0, 1, 1, 0, 0, 0, 1, 0)}


def _rgba_with_transparent_marker():
    grey = marker_array()
    alpha = np.full(IMAGE_SHAPE, 255, np.uint8)
    alpha[BRIGHT_CORNER] = 0  # luminance must ignore alpha: the marker stays bright
    return np.dstack([grey, grey, grey, alpha])


# One builder per supported format and variant, each writing the marker image into a folder and returning the path.
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
