"""The images a hospital PACS holds, for the PACS tests: real SIIM CRs and CR/DX phantoms in the forms detectors
write (12-bit CR, 16-bit MONOCHROME1 JPEG-2000 DX), and a CT series that must not be served."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.uid import JPEG2000Lossless, generate_uid

from ptxseg.io.writers import quantize, write_dicom
from ptxseg.phantom.synthetic import make_phantom
from tests.support.io_fixtures import write_dicom as write_fixture_dicom

__all__ = ["write_ct", "write_cr_phantom", "write_dx_monochrome1_jpeg2000"]

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
DX_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.1"


def write_cr_phantom(path: Path, seed: int = 0, size: int = 96, **tags) -> Path:
    """A 12-bit CR phantom chest, as a detector writes it (an original image); ``tags`` are set afterwards
    (AcquisitionDate, BodyPartExamined, ...)."""
    pixels = quantize(make_phantom(size, seed=seed).image, 12)
    write_dicom(pixels, path, (350 / size, 350 / size), bits_stored=12, modality="CR", patient_number=seed + 1)
    return _retag(path, **{"ImageType": ["ORIGINAL", "PRIMARY"], **tags})


def write_dx_monochrome1_jpeg2000(path: Path, seed: int = 1, size: int = 96) -> Path:
    """A 16-bit MONOCHROME1 DX "for presentation", JPEG-2000 compressed."""
    pixels = (65535 - quantize(make_phantom(size, seed=seed).image, 16)).astype(np.uint16)
    return write_fixture_dicom(
        path,
        pixels,
        photometric="MONOCHROME1",
        transfer_syntax=JPEG2000Lossless,
        SOPClassUID=DX_FOR_PRESENTATION,
        Modality="DX",
        StudyInstanceUID=generate_uid(),
        SeriesInstanceUID=generate_uid(),
        PresentationIntentType="FOR PRESENTATION",
        PatientOrientation=["L", "F"],
    )


def write_ct(path: Path) -> Path:
    """A CT slice (served by nothing here: ptxseg serves CR and DX)."""
    path = write_dicom(np.zeros((32, 32), np.uint16), path, bits_stored=12, modality="CR")
    return _retag(path, Modality="CT", SOPClassUID=CT_IMAGE_STORAGE)


def _retag(path: Path, **tags) -> Path:
    if not tags:
        return path
    dataset = pydicom.dcmread(path)
    for keyword, value in tags.items():
        setattr(dataset, keyword, value)
    if "SOPClassUID" in tags:
        dataset.file_meta.MediaStorageSOPClassUID = tags["SOPClassUID"]
    dataset.save_as(path, write_like_original=False)
    return path
