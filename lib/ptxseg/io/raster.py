"""Read a PNG/JPEG/BMP/TIFF chest X-ray with Pillow: grey or colour, 8 or 16 bit, EXIF orientation as ITK sees it.

Kept apart from ``ptxseg.io.reader`` because raster files bring their own traps (palette and alpha modes, multi-page
TIFF, EXIF rotation that ITK and 3D Slicer ignore, print resolution posing as spacing); ITK supplies the geometry.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ptxseg.image import CXRImage
from ptxseg.io.guards import check_pixel_count, luminance, percentile_window, read_error
from ptxseg.io.itk import itk_geometry_matching

__all__ = ["read_raster"]

_PILLOW_FORMATS = ("PNG", "JPEG", "BMP", "TIFF")
_EXIF_ORIENTATION = 0x0112
# How Pillow's decoders report corruption (TypeError: a TIFF page without dimensions, found by fuzzing).
_DECODER_ERRORS = (OSError, ValueError, SyntaxError, TypeError)


def read_raster(path: Path, max_pixels: int) -> CXRImage:
    """Read a single-frame raster image as ``ptxseg.io.reader.read_cxr`` describes; refuse grids above ``max_pixels``.

    Raises:
        CXRReadError: not an image Pillow can identify, a decompression bomb, multi-page, or undecodable.

    Example:
        >>> read_raster(Path("chest.png"), max_pixels=100_000_000).metadata["windowing"]  # doctest: +SKIP
        '8-bit / 255'
    """
    try:
        image = Image.open(path, formats=_PILLOW_FORMATS)
    except Image.DecompressionBombError as exc:
        raise read_error(path, f"refused as a decompression bomb: {exc}") from exc
    except (UnidentifiedImageError, *_DECODER_ERRORS) as exc:  # ValueError: a truncated PNG header (fuzzing)
        raise read_error(path, f"not a {'/'.join(_PILLOW_FORMATS)} image Pillow can identify ({exc})") from exc
    with image:
        check_pixel_count(path, image.height, image.width, max_pixels)
        try:
            frames = getattr(image, "n_frames", 1)  # TIFF parses every page's header here
        except _DECODER_ERRORS as exc:
            raise read_error(path, f"its pages cannot be counted (truncated or corrupt?): {exc}") from exc
        if frames > 1:
            raise read_error(path, f"holds {frames} frames or pages; a chest X-ray must be a single 2-D image")
        try:
            image.load()
            orientation = image.getexif().get(_EXIF_ORIENTATION, 1)  # PNG keeps EXIF after the pixels
        except _DECODER_ERRORS as exc:
            raise read_error(path, f"pixel data cannot be decoded (truncated or corrupt?): {exc}") from exc
        warnings = []
        if orientation != 1:
            warnings.append(f"EXIF orientation {orientation} ignored, as ITK and 3D Slicer ignore it")
        values = _raster_values(image)
        metadata = {"path": str(path), "format": image.format, "mode": image.mode, "original_dtype": str(values.dtype)}
    pixels, metadata["windowing"], window_warnings = _raster_pixels(values)
    geometry = itk_geometry_matching(path, *pixels.shape)
    spacing = (geometry.spacing[1], geometry.spacing[0])
    if spacing == (1.0, 1.0):
        warnings.append(f"{metadata['format']} stores no pixel spacing; assumed 1.0 mm, as ITK does")
    else:
        warnings.append(f"spacing {spacing} mm from the file's print resolution (as ITK reads it), not a detector's")
    return CXRImage(pixels.astype(np.float32), spacing, geometry, metadata, warnings + window_warnings)


def _raster_values(image: Image.Image) -> np.ndarray:
    """Stored values as Pillow decodes them: 2-D grey, or 3-D RGB for colour and palette modes."""
    if image.mode in ("LA", "La"):
        return np.asarray(image.getchannel(0))
    if image.mode in ("1", "L") or image.mode.startswith(("I", "F")):
        return np.asarray(image)
    return np.asarray(image.convert("RGB"))


def _raster_pixels(values: np.ndarray) -> tuple[np.ndarray, str, list[str]]:
    if values.dtype == bool:
        return values.astype(np.float64), "bilevel", []
    if values.dtype == np.uint8:
        grey = luminance(values) if values.ndim == 3 else values
        return grey / 255, "8-bit / 255", []
    return percentile_window(values)
