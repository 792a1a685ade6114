"""Label files between the server and the scene: read a server label checked against the image's grid, and
write the edited outline as an NRRD on exactly that grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import slicer
from vtk.util import numpy_support

from .segments import read_mask
from .volumes import grid_of, load_volume, voxels

__all__ = ["GridMismatch", "export_label", "read_server_label"]


class GridMismatch(ValueError):
    """A server file does not lie on the image's pixel grid: showing it would misplace the outline."""


def read_server_label(volumes_logic, path, volume) -> np.ndarray:
    """A server label or probability map file as a (rows, columns) array, after checking its grid.

    Raises:
        GridMismatch: its size, spacing, origin or direction differ from ``volume``'s.
    """
    scene = volumes_logic.GetMRMLScene()
    node = load_volume(volumes_logic, path, "PneumothoraxServerFile")
    try:
        label_grid, image_grid = grid_of(node), grid_of(volume)
        if not label_grid.matches(image_grid):
            raise GridMismatch(
                f"The server's label is not on the image's pixel grid (label {label_grid}, image {image_grid}); "
                "report this to the server's maintainers: the outline would be misplaced."
            )
        return voxels(node)
    finally:
        scene.RemoveNode(node)


def export_label(volumes_logic, segmentation, volume, path) -> Path:
    """Write every segment merged (value 1 = pneumothorax) as a label file on ``volume``'s grid.

    Raises:
        SegmentMissing: no segment left to export.
    """
    scene = volumes_logic.GetMRMLScene()
    mask = read_mask(scene, segmentation, volume)
    label = scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", "PneumothoraxExport")
    try:
        volumes_logic.CreateLabelVolumeFromVolume(scene, label, volume)
        scalars = label.GetImageData().GetPointData().GetScalars()
        numpy_support.vtk_to_numpy(scalars)[:] = mask.ravel()
        label.GetImageData().Modified()
        storage = slicer.vtkMRMLVolumeArchetypeStorageNode()
        scene.AddNode(storage)
        try:
            storage.SetFileName(str(path))
            storage.SetUseCompression(1)
            if not storage.WriteData(label):
                raise OSError(f"3D Slicer could not write the label to {path}")
        finally:
            scene.RemoveNode(storage)
    finally:
        scene.RemoveNode(label)
    return Path(path)
