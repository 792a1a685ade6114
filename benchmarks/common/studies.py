"""DICOM studies for the benchmarks that read files: 12-bit phantoms at a scanner's size, named by dotted UIDs as
SIIM's files are."""

from __future__ import annotations

from pathlib import Path

from ptxseg.io.writers import quantize, write_dicom
from ptxseg.phantom.synthetic import make_phantom

__all__ = ["write_dicom_studies"]

FIELD_OF_VIEW_MM = 350.0


def write_dicom_studies(folder: Path, side: int, count: int = 1, first_seed: int = 7) -> list[Path]:
    """Write ``count`` 12-bit DICOM phantoms of ``side`` x ``side`` (the first, third... with a pneumothorax).

    Example:
        >>> [path.name for path in write_dicom_studies(Path("studies"), 64, count=2)]  # doctest: +SKIP
        ['2.25.7.dcm', '2.25.8.dcm']
    """
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for index in range(count):
        uid = f"2.25.{first_seed + index}"
        pixels = quantize(make_phantom(side, positive=index % 2 == 0, seed=first_seed + index).image, bits=12)
        spacing = (FIELD_OF_VIEW_MM / side,) * 2
        written.append(write_dicom(pixels, folder / f"{uid}.dcm", spacing, bits_stored=12, sop_instance_uid=uid))
    return written
