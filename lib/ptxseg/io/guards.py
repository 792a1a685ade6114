"""What every chest X-ray reader shares: its error, the decompression-bomb guard, and the grey-level mapping.

Each format reader (``io_dicom``, ``io_raster``, ``io_itk``) uses these, so they live below all of them rather than
in ``ptxseg.io.reader``, which imports the readers. The pixel limit itself stays a setting of ``ptxseg.io.reader``
(``MAX_PIXELS``) and is passed in at each call, so raising it there takes effect everywhere.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ptxseg.image import CXRReadError

__all__ = ["PERCENTILE_WINDOW", "check_pixel_count", "luminance", "percentile_window", "read_error"]

# Robust window for images without a VOI: ignores the few saturated or dead detector pixels at either end.
PERCENTILE_WINDOW = (0.5, 99.5)
_LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114])  # ITU-R BT.601, as Pillow's convert("L")


def read_error(path: Path, reason: str) -> CXRReadError:
    """The error every reader raises: it names the file and says why it cannot be read.

    Example:
        >>> str(read_error(Path("a.dcm"), "the file is empty"))
        'cannot read a.dcm: the file is empty'
    """
    return CXRReadError(f"cannot read {path}: {reason}")


def check_pixel_count(path: Path, rows: int, columns: int, max_pixels: int) -> None:
    """Refuse a grid above ``max_pixels`` before its pixel data is decoded (decompression-bomb guard).

    Raises:
        CXRReadError: ``rows * columns`` exceeds ``max_pixels``; the message says how to allow the image.

    Example:
        >>> check_pixel_count(Path("a.png"), 1024, 1024, max_pixels=100_000_000)
    """
    if rows * columns > max_pixels:
        raise read_error(
            path,
            f"{rows} x {columns} pixels exceeds MAX_PIXELS={max_pixels} (decompression-bomb guard); "
            "raise ptxseg.io.reader.MAX_PIXELS if the image is genuine",
        )


def percentile_window(values: np.ndarray) -> tuple[np.ndarray, str, list[str]]:
    """Map values onto [0, 1] with the ``PERCENTILE_WINDOW`` (NaN/infinite pixels shown as the darkest value).

    Returns:
        The pixels, a description of the window used, and warnings about what was assumed.

    Example:
        >>> pixels, windowing, warnings = percentile_window(np.array([[0, 100], [200, 300]]))
        >>> pixels.min(), pixels.max(), warnings
        (0.0, 1.0, [])
    """
    values = np.asarray(values, dtype=np.float64)
    warnings = []
    finite = np.isfinite(values)
    if not finite.all():
        fill = values[finite].min() if finite.any() else 0.0
        values = np.where(finite, values, fill)
        warnings.append(f"{int((~finite).sum())} NaN/infinite pixels shown as the darkest value")
    low, high = np.percentile(values, PERCENTILE_WINDOW)
    if high <= low:  # fewer than 1 % of pixels differ: stretch the full range instead
        low, high = values.min(), values.max()
    if high <= low:
        return np.zeros(values.shape), "constant image", [*warnings, f"the image is constant ({low:g}); shown black"]
    pixels = np.clip((values - low) / (high - low), 0.0, 1.0)
    lower, upper = PERCENTILE_WINDOW
    return pixels, f"percentile {lower:g}-{upper:g} % window [{low:g}, {high:g}]", warnings


def luminance(rgb: np.ndarray) -> np.ndarray:
    """Grey values of RGB(A) pixels (last axis), weighted as Pillow's ``convert("L")``; alpha is ignored.

    Example:
        >>> luminance(np.array([255, 255, 255, 0])).round(6)
        255.0
    """
    return np.asarray(rgb, dtype=np.float64)[..., :3] @ _LUMA_WEIGHTS
