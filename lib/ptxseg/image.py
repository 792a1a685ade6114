"""The in-memory chest X-ray: display-ready pixels plus the geometry ITK/3D Slicer give the file."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["CXRImage", "CXRReadError", "Geometry"]


class CXRReadError(ValueError):
    """An image file that cannot be read as a chest X-ray; the message names the file and the reason."""


@dataclass(frozen=True)
class Geometry:
    """Physical geometry in ITK's convention (x = column index first), always as 3 components.

    ``dimension`` is the dimension ITK reads the file with: 2 for PNG/JPEG and 2-D NIfTI/NRRD, 3 for
    DICOM (a single slice) and single-slice 3-D volumes. A label written with this geometry overlays the
    image in ITK/3D Slicer without resampling.
    """

    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
    direction: tuple[float, ...] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
    dimension: int = 2


@dataclass
class CXRImage:
    """A chest X-ray ready for display and inference.

    Attributes:
        pixels: 2-D float32 array in [0, 1], rows x columns as displayed (row 0 at the top), brighter = higher
            as a radiologist sees the film (MONOCHROME1 already inverted, windowing applied).
        spacing: (row_mm, col_mm) pixel spacing; 1.0 mm with a warning in ``warnings`` when unknown or zero.
        geometry: the ITK geometry of the file, for writing labels on exactly the image's grid.
        metadata: non-identifying source facts (path, format, photometric interpretation, bits, view...).
            Never patient names or other identifying DICOM attributes.
        warnings: what was assumed while reading (e.g. missing pixel spacing).
    """

    pixels: np.ndarray
    spacing: tuple[float, float]
    geometry: Geometry
    metadata: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns) of the pixel grid."""
        return tuple(self.pixels.shape)
