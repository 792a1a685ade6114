"""Plain binary mask files: PTX-498's PNG masks read, predicted masks written as PNG or as a label on the image grid."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from ptxseg.image import CXRImage
from ptxseg.io.labels import write_label
from ptxseg.io.writers import write_png

__all__ = ["read_mask", "MASK_FORMATS", "write_mask"]


def read_mask(path: str | os.PathLike) -> np.ndarray:
    """Read a mask image: any nonzero colour channel is pneumothorax; an alpha channel is ignored.

    Args:
        path: a grey, palette or RGB(A) mask image.

    Returns:
        bool array (rows, columns) as displayed.

    Example:
        >>> read_mask("PTX-498/SiteA/1.2.mask.png").dtype  # doctest: +SKIP
        dtype('bool')
    """
    with Image.open(path) as image:
        if image.mode in ("1", "L", "I", "I;16", "F"):
            return np.asarray(image) != 0
        # Palette and alpha masks: compare colours, not indices, and never count opacity as foreground.
        return np.asarray(image.convert("RGB")).any(axis=-1)


MASK_FORMATS = ("png", "nrrd")


def write_mask(mask: np.ndarray, image: CXRImage, folder: Path, identifier: str, mask_format: str) -> Path:
    """Write a mask at the image's original size: ``<id>.png`` (0/255, no geometry) or ``<id>.nrrd`` on its grid.

    Example:
        >>> write_mask(prediction.mask, image, Path("out"), "1.2.840.99", "nrrd")  # doctest: +SKIP
        PosixPath('out/1.2.840.99.nrrd')
    """
    if mask_format not in MASK_FORMATS:
        raise ValueError(f"mask format must be one of {', '.join(MASK_FORMATS)}, got {mask_format!r}")
    path = folder / f"{identifier}.{mask_format}"
    if mask_format == "nrrd":
        return write_label(mask, like=image, path=path)
    return write_png(np.asarray(mask, dtype=bool), path)
