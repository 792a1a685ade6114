"""Read chest X-rays (DICOM, PNG/JPEG/BMP/TIFF, NIfTI, NRRD) into CXRImage; write labels on exactly their grid.

Pixels come from the format's own decoder (pydicom, Pillow, SimpleITK); the geometry always comes from ITK's
reading of the same file, because 3D Slicer reads it with ITK and a label must overlay there without resampling.

This module is the public face: it picks a reader by suffix (``io_dicom``, ``io_raster``, ``io_itk``), owns the
``MAX_PIXELS`` setting it hands to them, and writes and reads labels.
"""

from __future__ import annotations

import os
from pathlib import Path

from ptxseg.image import CXRImage
from ptxseg.io.dicom import has_dicom_preamble, read_dicom
from ptxseg.io.formats import (
    DICOM_SUFFIXES,
    ITK_VOLUME_SUFFIXES,
    LABEL_SUFFIXES,
    RASTER_SUFFIXES,
    SUPPORTED_SUFFIXES,
    known_suffix,
)
from ptxseg.io.guards import read_error
from ptxseg.io.itk import read_itk_volume
from ptxseg.io.raster import read_raster

__all__ = [
    "LABEL_SUFFIXES",
    "MAX_PIXELS",
    "SUPPORTED_SUFFIXES",
    "image_id",
    "read_cxr",
]

# Decompression-bomb guard: 10k x 10k is far above any detector (the largest are ~4.3k x 4.3k).
# Read at each call (not bound at import), so raising ptxseg.io.reader.MAX_PIXELS takes effect in every reader.
MAX_PIXELS = 100_000_000


def image_id(path: str | os.PathLike) -> str:
    """The file name without its image suffix; dotted DICOM UIDs keep every digit.

    Only suffixes in ``SUPPORTED_SUFFIXES`` (case-insensitive, multi-dot ones such as ``.nii.gz`` included) are
    removed, so the tail of a UID is never mistaken for an extension.

    Example:
        >>> image_id("train/1.2.276.0.7230010.3.1.4.8323329.12671.1517875241.63757.dcm")
        '1.2.276.0.7230010.3.1.4.8323329.12671.1517875241.63757'
        >>> image_id("1.2.3.45"), image_id("case7.nii.gz")
        ('1.2.3.45', 'case7')
    """
    name = Path(path).name
    suffix = known_suffix(name)
    return name[: -len(suffix)] if suffix else name


def read_cxr(path: str | os.PathLike) -> CXRImage:
    """Read one chest X-ray into display-ready pixels plus the geometry ITK/3D Slicer give the file.

    DICOM: Modality LUT, then the VOI LUT or the first window (else a 0.5-99.5 % percentile window), MONOCHROME1
    inverted. 8-bit PNG/JPEG/BMP/TIFF are divided by 255; 16-bit ones and NIfTI/NRRD get the percentile window.
    A DICOM without a known suffix is recognised by its ``DICM`` preamble.

    ``spacing`` is the physical pixel spacing (DICOM Pixel Spacing, else Imager Pixel Spacing, else 1.0 mm with a
    warning); ``geometry`` is what ITK reports, which can differ (ITK ignores Imager Pixel Spacing and treats zero
    spacing as 1.0 mm). Labels must be written with ``geometry`` (see ``write_label``).

    Args:
        path: the image file.

    Returns:
        The image; ``warnings`` lists what was assumed.

    Raises:
        CXRReadError: the file is missing, empty, corrupt, not 2-D, larger than ``MAX_PIXELS`` or of an
            unsupported type; the message names the file and the reason.

    Example:
        >>> import numpy as np
        >>> from ptxseg.io.writers import write_dicom
        >>> image = read_cxr(write_dicom(np.eye(1024, dtype=np.uint8), "1.2.276.0.7230010.3.1.4.8323329.6904.dcm"))
        >>> image.shape, image.geometry.dimension, image.metadata["photometric_interpretation"]
        ((1024, 1024), 3, 'MONOCHROME2')
    """
    path = Path(path)
    if not path.is_file():
        raise read_error(path, "no such file")
    if path.stat().st_size == 0:
        raise read_error(path, "the file is empty")
    suffix = known_suffix(path.name)
    if suffix in DICOM_SUFFIXES or (suffix is None and has_dicom_preamble(path)):
        return read_dicom(path, MAX_PIXELS)
    if suffix in RASTER_SUFFIXES:
        return read_raster(path, MAX_PIXELS)
    if suffix in ITK_VOLUME_SUFFIXES:
        return read_itk_volume(path, MAX_PIXELS)
    raise read_error(path, f"unsupported file type; supported suffixes: {', '.join(SUPPORTED_SUFFIXES)}")
