"""Which reader a file name calls for: the suffix tables of ``ptxseg.io.reader`` and the one rule that matches them.

Kept apart because both the dispatch in ``ptxseg.io.reader`` and the ITK volume reader (NIfTI or NRRD?) need the same
answer, and a second matching rule would sooner or later disagree about names like ``1.2.3.45`` or ``x.nii.gz``.
"""

from __future__ import annotations

__all__ = [
    "DICOM_SUFFIXES",
    "ITK_VOLUME_SUFFIXES",
    "LABEL_SUFFIXES",
    "RASTER_SUFFIXES",
    "SUPPORTED_SUFFIXES",
    "known_suffix",
]

DICOM_SUFFIXES = (".dcm", ".dicom")
RASTER_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
ITK_VOLUME_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".nhdr")
SUPPORTED_SUFFIXES = DICOM_SUFFIXES + RASTER_SUFFIXES + ITK_VOLUME_SUFFIXES
LABEL_SUFFIXES = (".nrrd", ".nii.gz", ".nii", ".png")


def known_suffix(name: str) -> str | None:
    """The longest of ``SUPPORTED_SUFFIXES`` that ends ``name`` (case-insensitive), or None.

    A name that is only a suffix has none: ``.png`` is a hidden file, not a PNG without a stem.

    Example:
        >>> known_suffix("Case7.NII.GZ"), known_suffix("1.2.3.45"), known_suffix(".png")
        ('.nii.gz', None, None)
    """
    lowered = name.lower()
    matches = [suffix for suffix in SUPPORTED_SUFFIXES if lowered.endswith(suffix) and len(lowered) > len(suffix)]
    return max(matches, key=len, default=None)
