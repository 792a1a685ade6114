"""Write synthetic radiographs as minimal, anonymous DICOM or grey PNG files.

These writers serve phantoms and test fixtures: the DICOM carries no patient identifier beyond a synthetic
``PHANTOM^n`` name. Labels on an image's grid are written by :func:`ptxseg.io.labels.write_label`, not here.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian, generate_uid

__all__ = ["MODALITY_SOP_CLASSES", "quantize", "write_dicom", "write_png"]

MODALITY_SOP_CLASSES = {
    "CR": "1.2.840.10008.5.1.4.1.1.1",  # Computed Radiography Image Storage
    "DX": "1.2.840.10008.5.1.4.1.1.1.1",  # Digital X-Ray Image Storage - For Presentation
}


def quantize(image: np.ndarray, bits: int = 8) -> np.ndarray:
    """Scale a [0, 1] float image to unsigned integers of ``bits`` bits (uint8 up to 8 bits, else uint16).

    Args:
        image: float values in [0, 1]; values outside are clipped.
        bits: 1..16.

    Returns:
        ``round(image * (2**bits - 1))`` as uint8 or uint16.

    Example:
        >>> quantize(np.array([[0.0, 0.5, 1.0]]), bits=8).tolist()
        [[0, 128, 255]]
    """
    if not 1 <= bits <= 16:
        raise ValueError(f"bits must be 1..16, got {bits}")
    dtype = np.uint8 if bits <= 8 else np.uint16
    return np.round(np.clip(image, 0.0, 1.0) * (2**bits - 1)).astype(dtype)


def write_dicom(
    pixels: np.ndarray,
    path: str | os.PathLike,
    spacing_mm: tuple[float, float] = (0.2, 0.2),
    *,
    bits_stored: int | None = None,
    modality: str = "CR",
    sop_instance_uid: str | None = None,
    patient_number: int = 1,
) -> Path:
    """Write a grey radiograph as an uncompressed single-frame MONOCHROME2 DICOM file.

    The file holds Study/Series UIDs derived from the SOP Instance UID, Pixel Spacing (and the same Imager Pixel
    Spacing), a window showing the full stored range, a PA chest view, and the synthetic patient name
    ``PHANTOM^<patient_number>``: nothing identifies a person.

    Args:
        pixels: 2-D uint8 or uint16 array, rows x columns as displayed (higher = brighter).
        path: target ``.dcm`` file; its folder must exist.
        spacing_mm: (row, column) pixel spacing in millimetres.
        bits_stored: significant bits (default: 8 for uint8, 16 for uint16); every value must fit.
        modality: 'CR' or 'DX'.
        sop_instance_uid: the image's UID (default: a new random one); SIIM-style data names files by it.
        patient_number: the ``n`` of ``PHANTOM^n``.

    Returns:
        The written path.

    Raises:
        ValueError: pixels not 2-D uint8/uint16, values above ``bits_stored``, an unknown modality, or a
            non-positive spacing.

    Example:
        >>> write_dicom(np.zeros((64, 64), np.uint16), "phantom.dcm", (0.5, 0.5), bits_stored=12)
        PosixPath('phantom.dcm')
    """
    pixels = np.asarray(pixels)
    if pixels.ndim != 2 or pixels.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"pixels must be a 2-D uint8 or uint16 array, got {pixels.dtype} {pixels.shape}; see quantize")
    if modality not in MODALITY_SOP_CLASSES:
        raise ValueError(f"modality must be one of {sorted(MODALITY_SOP_CLASSES)}, got {modality!r}")
    if len(spacing_mm) != 2 or min(spacing_mm) <= 0:
        raise ValueError(f"spacing_mm must be two positive millimetre values (row, column), got {spacing_mm}")
    bits_allocated = pixels.itemsize * 8
    bits_stored = bits_stored or bits_allocated
    if not 1 <= bits_stored <= bits_allocated or int(pixels.max(initial=0)) >= 2**bits_stored:
        raise ValueError(
            f"{bits_stored} stored bits cannot hold {pixels.dtype} pixels up to {int(pixels.max(initial=0))}; "
            f"use bits_stored between {int(pixels.max(initial=0)).bit_length() or 1} and {bits_allocated}"
        )
    path = Path(path)
    sop_instance_uid = sop_instance_uid or generate_uid()

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MODALITY_SOP_CLASSES[modality]
    meta.MediaStorageSOPInstanceUID = sop_instance_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    dataset = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    dataset.is_little_endian = True
    dataset.is_implicit_VR = False

    dataset.SOPClassUID = MODALITY_SOP_CLASSES[modality]
    dataset.SOPInstanceUID = sop_instance_uid
    # Derived from the instance UID, so a given UID always yields the same file.
    dataset.StudyInstanceUID = generate_uid(entropy_srcs=[sop_instance_uid, "study"])
    dataset.SeriesInstanceUID = generate_uid(entropy_srcs=[sop_instance_uid, "series"])
    dataset.Modality = modality
    dataset.PatientName = f"PHANTOM^{patient_number}"
    # Type 2 attributes: present but empty, as a de-identified file has them.
    dataset.PatientID = ""
    dataset.PatientBirthDate = ""
    dataset.PatientSex = ""
    dataset.StudyDate = ""
    dataset.StudyTime = ""
    dataset.StudyID = ""
    dataset.AccessionNumber = ""
    dataset.ReferringPhysicianName = ""
    dataset.SeriesNumber = 1
    dataset.InstanceNumber = 1
    dataset.BodyPartExamined = "CHEST"
    dataset.ViewPosition = "PA"
    dataset.PatientOrientation = ["L", "F"]  # PA view: columns run to the patient's left, rows to the feet
    dataset.ImageType = ["DERIVED", "PRIMARY"]
    dataset.ConversionType = "SYN"
    dataset.BurnedInAnnotation = "NO"  # synthetic pixels: no text is drawn into them

    dataset.Rows, dataset.Columns = pixels.shape
    dataset.SamplesPerPixel = 1
    dataset.PhotometricInterpretation = "MONOCHROME2"
    dataset.BitsAllocated = bits_allocated
    dataset.BitsStored = bits_stored
    dataset.HighBit = bits_stored - 1
    dataset.PixelRepresentation = 0
    dataset.PixelSpacing = [float(value) for value in spacing_mm]
    dataset.ImagerPixelSpacing = [float(value) for value in spacing_mm]
    # A LINEAR window over the full stored range (PS3.3 C.11.2.1.2) shows value v as v / (2**bits - 1), exactly
    # the picture that was written, instead of leaving each viewer to guess a window.
    dataset.WindowCenter = 2 ** (bits_stored - 1)
    dataset.WindowWidth = 2**bits_stored
    dataset.PixelData = np.ascontiguousarray(pixels, dtype=pixels.dtype.newbyteorder("<")).tobytes()
    dataset.save_as(path, write_like_original=False)
    return path


def write_png(pixels: np.ndarray, path: str | os.PathLike) -> Path:
    """Write a grey uint8 (8-bit) or uint16 (16-bit) image, or a bool mask as 0/255, to a PNG file.

    Args:
        pixels: 2-D bool, uint8 or uint16 array, rows x columns as displayed.
        path: target ``.png`` file; its folder must exist.

    Returns:
        The written path.

    Raises:
        ValueError: not a 2-D bool/uint8/uint16 array.

    Example:
        >>> write_png(np.array([[True, False]]), "mask.png")
        PosixPath('mask.png')
    """
    pixels = np.asarray(pixels)
    if pixels.ndim != 2 or pixels.dtype not in (np.bool_, np.uint8, np.uint16):
        raise ValueError(f"pixels must be a 2-D bool, uint8 or uint16 array, got {pixels.dtype} {pixels.shape}")
    if pixels.dtype == np.bool_:
        pixels = pixels.astype(np.uint8) * 255
    path = Path(path)
    Image.fromarray(pixels).save(path, format="PNG")
    return path
