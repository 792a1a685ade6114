"""A pixel grid in physical space, comparable between ITK files and 3D Slicer volumes.

ITK works in LPS and 3D Slicer in RAS; ``Grid`` holds the LPS index-to-physical matrix and converts Slicer's
IJK-to-RAS matrix, so a label checked here overlays the volume Slicer shows without resampling. Needs only
numpy: Slicer imports it at startup, where loading SimpleITK would cost seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Grid"]

_RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])


@dataclass(frozen=True)
class Grid:
    """A pixel grid: size (columns, rows, slices), the 4x4 LPS index-to-physical matrix, the file's dimension.

    2-D files are lifted to one slice of unit spacing at z = 0, so a 2-D label and the same grid read
    as a single-slice 3-D volume compare equal.
    """

    size: tuple[int, int, int]
    index_to_lps: tuple[tuple[float, ...], ...]
    dimension: int = 3

    @classmethod
    def from_itk(cls, image) -> Grid:
        """The grid of a SimpleITK image, or of a SimpleITK reader after ``ReadImageInformation``."""
        dimension = image.GetDimension()
        if dimension not in (2, 3):
            raise ValueError(f"expected a 2-D image or a single-slice 3-D volume, got {dimension}-D")
        direction = np.eye(3)
        direction[:dimension, :dimension] = np.reshape(image.GetDirection(), (dimension, dimension))
        spacing = np.ones(3)
        spacing[:dimension] = image.GetSpacing()
        origin = np.zeros(3)
        origin[:dimension] = image.GetOrigin()
        size = (list(image.GetSize()) + [1])[:3]
        matrix = np.eye(4)
        matrix[:3, :3] = direction * spacing
        matrix[:3, 3] = origin
        return cls(tuple(int(n) for n in size), _frozen(matrix), dimension)

    @classmethod
    def from_ijk_to_ras(cls, size, ijk_to_ras) -> Grid:
        """The grid of a Slicer volume from its dimensions and 4x4 IJK-to-RAS matrix (nested sequences).

        Example:
            >>> ras = [[-0.5, 0, 0, 10], [0, -0.5, 0, 20], [0, 0, 1, 0], [0, 0, 0, 1]]
            >>> Grid.from_ijk_to_ras((4, 3, 1), ras).index_to_lps[0]
            (0.5, 0.0, 0.0, -10.0)
        """
        matrix = _RAS_TO_LPS @ np.asarray(ijk_to_ras, dtype=float).reshape(4, 4)
        return cls(tuple(int(n) for n in size), _frozen(matrix))

    def matches(self, other: Grid, tolerance: float = 1e-4) -> bool:
        """Same size and pixel positions within ``tolerance`` (mm): the two overlay without resampling.

        A single slice has no thickness to agree on, so its slice-axis column (which readers fill with 1 mm,
        the slice thickness or the slice spacing) is ignored.

        Example:
            >>> a = Grid((4, 3, 1), ((1, 0, 0, 0), (0, 1, 0, 0), (0, 0, 1, 0), (0, 0, 0, 1)))
            >>> a.matches(a), a.matches(Grid((3, 4, 1), a.index_to_lps))
            (True, False)
        """
        if self.size != other.size:
            return False
        columns = [0, 1, 3] if self.size[2] == 1 else [0, 1, 2, 3]
        mine, theirs = np.asarray(self.index_to_lps), np.asarray(other.index_to_lps)
        return bool(np.allclose(mine[:, columns], theirs[:, columns], rtol=0, atol=tolerance))

    def to_itk(self, image) -> None:
        """Give ``image`` (2-D or 3-D, same size) this grid's origin, spacing and direction."""
        matrix = np.asarray(self.index_to_lps)
        dimension = image.GetDimension()
        spacing = np.linalg.norm(matrix[:3, :3], axis=0)
        direction = matrix[:3, :3] / spacing
        image.SetSpacing(tuple(float(s) for s in spacing[:dimension]))
        image.SetOrigin(tuple(float(o) for o in matrix[:dimension, 3]))
        image.SetDirection(tuple(float(d) for d in direction[:dimension, :dimension].ravel()))


def _frozen(matrix: np.ndarray) -> tuple[tuple[float, ...], ...]:
    return tuple(tuple(float(value) for value in row) for row in matrix)
