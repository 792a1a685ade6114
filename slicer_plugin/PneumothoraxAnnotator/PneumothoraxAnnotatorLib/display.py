"""How to show an X-ray as the model sees it: the file's window and its polarity.

The server's reader applies the DICOM modality LUT, then the file's first window (else a 0.5-99.5 %
percentile window), and inverts MONOCHROME1. Slicer's volume reader keeps the modality-rescaled values but
ignores the window and the polarity, so the module applies them on the volume's display node. A VOI LUT
sequence is shown with the percentile window (Slicer's display node has no LUT of that kind).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["DisplaySettings", "display_settings"]


@dataclass(frozen=True)
class DisplaySettings:
    """``invert``: bright means air (MONOCHROME1). ``window``: (center, width) in stored-and-rescaled values,
    None for the percentile window."""

    invert: bool = False
    window: tuple[float, float] | None = None


def display_settings(path: str | Path) -> DisplaySettings:
    """Read the display tags of a DICOM file; any other file (PNG, NRRD) gets the default.

    Example:
        >>> display_settings("chest.png")  # doctest: +SKIP
        DisplaySettings(invert=False, window=None)
    """
    if not _is_dicom(Path(path)):
        return DisplaySettings()
    import pydicom  # Slicer bundles pydicom; imported here so PNG-only use does not pay for it

    dataset = pydicom.dcmread(str(path), stop_before_pixels=True)
    invert = str(dataset.get("PhotometricInterpretation", "")).upper() == "MONOCHROME1"
    if dataset.get("VOILUTSequence"):
        return DisplaySettings(invert, None)
    center, width = _first(dataset.get("WindowCenter")), _first(dataset.get("WindowWidth"))
    try:
        window = (float(center), float(width)) if center is not None and width is not None else None
    except (TypeError, ValueError):
        window = None  # the model falls back to the percentile window too
    return DisplaySettings(invert, window if window is None or window[1] > 0 else None)


def _is_dicom(path: Path) -> bool:
    with open(path, "rb") as file:
        return file.read(132)[128:132] == b"DICM"


def _first(value):
    if value is None or isinstance(value, (str, bytes, int, float)):
        return value
    try:
        return value[0]
    except (TypeError, IndexError):
        return value
