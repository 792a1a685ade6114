"""The model's probability map as a colour overlay on the X-ray, and the mask re-cut from it at a threshold."""

from __future__ import annotations

import numpy as np

from .labels import GridMismatch
from .segments import set_mask
from .volumes import grid_of, load_volume, voxels

__all__ = ["OVERLAY_COLOR_ID", "cut_mask", "load_probability", "show_overlay"]

# Built into Slicer's default colour tables (vtkMRMLColorLogic), so it exists in every scene.
OVERLAY_COLOR_ID = "vtkMRMLColorTableNodeRainbow"
# Below this the overlay is transparent: the X-ray stays readable where the model sees nothing.
VISIBLE_FROM = 0.05


def load_probability(volumes_logic, path, volume, previous=None):
    """Load a server probability map as a volume node on ``volume``'s grid (replacing ``previous``).

    Raises:
        GridMismatch: the map is not on the image's pixel grid.
    """
    scene = volumes_logic.GetMRMLScene()
    if previous is not None and scene.IsNodePresent(previous):
        scene.RemoveNode(previous)
    node = load_volume(volumes_logic, path, f"{volume.GetName()} probability")
    if not grid_of(node).matches(grid_of(volume)):
        scene.RemoveNode(node)
        raise GridMismatch("The server's probability map is not on the image's pixel grid; it is not shown.")
    display = node.GetDisplayNode()
    display.SetAndObserveColorNodeID(OVERLAY_COLOR_ID)
    display.AutoWindowLevelOff()
    display.SetWindowLevelMinMax(0.0, 1.0)
    display.SetApplyThreshold(1)
    display.SetLowerThreshold(VISIBLE_FROM)
    display.SetUpperThreshold(1.0)
    return node


def show_overlay(scene, overlay, opacity: float) -> None:
    """Put ``overlay`` (None: nothing) in the foreground of every slice view at ``opacity`` in [0, 1]."""
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity must lie in [0, 1], got {opacity}")
    for index in range(scene.GetNumberOfNodesByClass("vtkMRMLSliceCompositeNode")):
        composite = scene.GetNthNodeByClass(index, "vtkMRMLSliceCompositeNode")
        composite.SetForegroundVolumeID(overlay.GetID() if overlay is not None else None)
        composite.SetForegroundOpacity(opacity)


def cut_mask(segmentation, volume, overlay, threshold: float, save_state=None) -> np.ndarray:
    """Replace the pneumothorax segment by the pixels whose probability is at least ``threshold``.

    The server's own mask also drops regions below its minimum area; this cut is the plain threshold, so the
    annotator sees exactly what the slider says.
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must lie in (0, 1], got {threshold}")
    mask = (voxels(overlay) >= threshold).astype(np.uint8)
    set_mask(segmentation, volume, mask, save_state=save_state)
    return mask
