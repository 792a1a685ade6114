"""Images as Slicer reads them: load one file as a single-slice volume, its pixel grid, its display."""

from __future__ import annotations

import numpy as np
import vtk
from vtk.util import numpy_support

from ..display import DisplaySettings
from ..grid import Grid

__all__ = ["apply_display", "grid_of", "image_shape", "load_volume", "voxels"]

# Slicer's built-in inverted grey table (vtkMRMLColorLogic's default tables): MONOCHROME1 shows bone white.
INVERTED_GREY_ID = "vtkMRMLColorTableNodeInvertedGrey"
GREY_ID = "vtkMRMLColorTableNodeGrey"


def load_volume(volumes_logic, path, name: str, label: bool = False):
    """Read one image file (DICOM, PNG, NRRD...) as a volume node, only that file (no series search).

    Args:
        volumes_logic: ``slicer.modules.volumes.logic()`` in Slicer (a vtkSlicerVolumesLogic on the scene).
        label: load as a labelmap volume (value 1 = pneumothorax) instead of a scalar volume.

    Raises:
        ValueError: Slicer could not read the file.
    """
    # vtkSlicerVolumesLogic's loading options: bit 0 label map, bit 2 single file (an X-ray folder is no series).
    options = (1 if label else 0) | 4
    node = volumes_logic.AddArchetypeVolume(str(path), name, options)
    if node is None or node.GetImageData() is None:
        raise ValueError(f"3D Slicer could not read the image file {path}")
    return node


def image_shape(volume) -> tuple[int, int]:
    """(rows, columns) of a single-slice volume."""
    columns, rows, _ = volume.GetImageData().GetDimensions()
    return rows, columns


def voxels(volume) -> np.ndarray:
    """The volume's first component as a (rows, columns) array (a copy)."""
    image = volume.GetImageData()
    values = numpy_support.vtk_to_numpy(image.GetPointData().GetScalars())
    columns, rows, slices = image.GetDimensions()
    components = image.GetNumberOfScalarComponents()
    return values.reshape(slices, rows, columns, components)[0, :, :, 0].copy()


def grid_of(volume) -> Grid:
    """The volume's pixel grid (size and LPS index-to-physical matrix) to compare with a server label's."""
    ijk_to_ras = vtk.vtkMatrix4x4()
    volume.GetIJKToRASMatrix(ijk_to_ras)
    matrix = [[ijk_to_ras.GetElement(row, column) for column in range(4)] for row in range(4)]
    return Grid.from_ijk_to_ras(volume.GetImageData().GetDimensions(), matrix)


def apply_display(volume, settings: DisplaySettings) -> None:
    """Show the volume with the model's window and polarity (see ``PneumothoraxAnnotatorLib.display``)."""
    display = volume.GetDisplayNode()
    if display is None:
        volume.CreateDefaultDisplayNodes()
        display = volume.GetDisplayNode()
    display.SetAndObserveColorNodeID(INVERTED_GREY_ID if settings.invert else GREY_ID)
    window = settings.window or _percentile_window(voxels(volume))
    display.AutoWindowLevelOff()
    display.SetWindowLevel(window[1], window[0])


def _percentile_window(values: np.ndarray) -> tuple[float, float]:
    """The model's fallback window (0.5-99.5 %) as (center, width) when the file names none."""
    low, high = np.percentile(values, [0.5, 99.5])
    return float(low + high) / 2, float(max(high - low, 1e-6))
