"""Where an image came from, as far as monitoring may know: device and acquisition attributes, never the patient.

Monitoring groups inferences by source to see a new X-ray unit, site or view drift the inputs. Only the attributes
in ``SOURCE_ATTRIBUTES`` are read from the header (pydicom's ``specific_tags``), so a patient attribute cannot reach
a monitoring record even by mistake. Station Name may identify a site or a device, not a patient; the other
identifying equipment attributes of PS3.15 Annex E (Institution Name, Device Serial Number...) are not read.
"""

from __future__ import annotations

import os
from pathlib import Path

import pydicom

from ptxseg.io.dicom import has_dicom_preamble
from ptxseg.io.formats import DICOM_SUFFIXES, known_suffix

__all__ = ["SOURCE_ATTRIBUTES", "UNKNOWN_SOURCE", "read_source_attributes"]

# Record key -> DICOM keyword.
SOURCE_ATTRIBUTES = {
    "station": "StationName",
    "manufacturer": "Manufacturer",
    "model": "ManufacturerModelName",
    "view_position": "ViewPosition",
    "modality": "Modality",
}
UNKNOWN_SOURCE = "unknown"


def read_source_attributes(path: str | os.PathLike) -> dict[str, str]:
    """The source attributes of an image file; ``"unknown"`` where the header has none (and for non-DICOM files).

    Example:
        >>> read_source_attributes("chest.dcm")  # doctest: +SKIP
        {'station': 'XR-ROOM-3', 'manufacturer': 'ACME', 'model': 'unknown', 'view_position': 'PA', 'modality': 'CR'}
    """
    path = Path(path)
    values = dict.fromkeys(SOURCE_ATTRIBUTES, UNKNOWN_SOURCE)
    suffix = known_suffix(path.name)
    if not (suffix in DICOM_SUFFIXES or (suffix is None and path.is_file() and has_dicom_preamble(path))):
        return values
    header = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=list(SOURCE_ATTRIBUTES.values()))
    for key, keyword in SOURCE_ATTRIBUTES.items():
        value = str(header.get(keyword, "") or "").strip()
        values[key] = value or UNKNOWN_SOURCE
    return values
