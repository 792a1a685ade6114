"""The pneumothorax segment of one image: create it, fill it, read it back, notice every change.

One new segmentation node per image: the Segment Editor's undo history (vtkSegmentationHistory) is reset only
when it is given a different segmentation, so a reused node would let undo on image B restore image A's
outline. Reading merges every segment: a stroke drawn in another segment is part of the outline, not lost.
"""

from __future__ import annotations

import numpy as np
import slicer
import vtk
from vtk.util import numpy_support

from .volumes import image_shape, voxels

__all__ = [
    "SEGMENT_COLOR",
    "SEGMENT_ID",
    "SegmentMissing",
    "ensure_segment",
    "new_segmentation",
    "read_mask",
    "set_mask",
    "watch_edits",
]

SEGMENT_ID = "pneumothorax"
SEGMENT_COLOR = (1.0, 0.35, 0.2)
# Every way the outline changes: strokes (SourceRepresentationModified), undo/redo and imports
# (SegmentModified), and segments added or removed in the Segment Editor.
EDIT_EVENTS = ("SourceRepresentationModified", "SegmentModified", "SegmentAdded", "SegmentRemoved")


class SegmentMissing(ValueError):
    """The segmentation has no segment left to read (the annotator removed it)."""


def new_segmentation(scene, volume, previous=None, name: str = "Pneumothorax"):
    """A fresh segmentation node on ``volume``'s grid with an empty pneumothorax segment; removes ``previous``."""
    if previous is not None and scene.IsNodePresent(previous):
        scene.RemoveNode(previous)
    node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", name)
    node.CreateDefaultDisplayNodes()
    node.GetDisplayNode().SetOpacity2DFill(0.3)
    node.SetReferenceImageGeometryParameterFromVolumeNode(volume)
    ensure_segment(node)
    return node


def ensure_segment(node) -> bool:
    """Recreate the empty pneumothorax segment when it is gone; True when it had to be recreated."""
    segmentation = node.GetSegmentation()
    if segmentation.GetSegment(SEGMENT_ID) is not None:
        return False
    segmentation.AddEmptySegment(SEGMENT_ID, "pneumothorax", SEGMENT_COLOR)
    return True


def set_mask(node, volume, mask, save_state=None, segment_id: str = SEGMENT_ID) -> None:
    """Replace a segment (the pneumothorax one unless told) by a (rows, columns) mask on ``volume``'s grid.

    Args:
        save_state: called first (the Segment Editor's ``saveStateForUndo``), so undo brings the old outline back.
        segment_id: the segment to replace; the pneumothorax segment is recreated when it was removed.

    Raises:
        ValueError: the mask is not on the image's (rows, columns).
    """
    mask = np.asarray(mask)
    if mask.shape != image_shape(volume):
        raise ValueError(f"mask shape {mask.shape} is not the image's (rows, columns) {image_shape(volume)}")
    if save_state is not None:
        save_state()
    if segment_id == SEGMENT_ID:
        ensure_segment(node)
    labelmap = _labelmap_like(volume, (mask > 0).astype(np.uint8))
    logic = slicer.vtkSlicerSegmentationsModuleLogic
    if not logic.SetBinaryLabelmapToSegment(labelmap, node, segment_id, logic.MODE_REPLACE):
        raise RuntimeError(f"3D Slicer refused to set the segment {segment_id!r}")


def read_mask(scene, node, volume) -> np.ndarray:
    """Every segment merged into one (rows, columns) uint8 mask on ``volume``'s grid.

    Raises:
        SegmentMissing: the segmentation has no segment (Slicer would export a labelmap without pixels).
    """
    segmentation = node.GetSegmentation()
    ids = [segmentation.GetNthSegmentID(index) for index in range(segmentation.GetNumberOfSegments())]
    if not ids:
        raise SegmentMissing(
            "The pneumothorax segment was removed. Add it back (Predict or a new segment named 'pneumothorax') "
            "and draw the outline; submit an empty segment for 'no pneumothorax'."
        )
    label = scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", "PneumothoraxReadBack")
    try:
        logic = slicer.vtkSlicerSegmentationsModuleLogic
        segment_ids = _string_array(ids)
        if not logic.ExportSegmentsToLabelmapNode(node, segment_ids, label, volume) or label.GetImageData() is None:
            raise RuntimeError("3D Slicer could not export the segments to a labelmap")
        if label.GetImageData().GetPointData().GetScalars() is None:
            return np.zeros(image_shape(volume), np.uint8)
        return (voxels(label) > 0).astype(np.uint8)
    finally:
        scene.RemoveNode(label)


def watch_edits(node, callback) -> list[int]:
    """Call ``callback()`` on every change of the outline; returns the observer tags (for RemoveObserver)."""
    segmentation = node.GetSegmentation()
    return [
        segmentation.AddObserver(getattr(slicer.vtkSegmentation, event), lambda caller, event_id: callback())
        for event in EDIT_EVENTS
    ]


def _labelmap_like(volume, mask: np.ndarray):
    """A vtkOrientedImageData with ``volume``'s geometry holding ``mask``."""
    labelmap = slicer.vtkOrientedImageData()
    labelmap.SetExtent(volume.GetImageData().GetExtent())
    labelmap.AllocateScalars(numpy_support.get_vtk_array_type(np.uint8), 1)
    matrix = vtk.vtkMatrix4x4()
    volume.GetIJKToRASMatrix(matrix)
    labelmap.SetImageToWorldMatrix(matrix)
    numpy_support.vtk_to_numpy(labelmap.GetPointData().GetScalars())[:] = mask.ravel()
    labelmap.Modified()
    return labelmap


def _string_array(values):
    array = vtk.vtkStringArray()
    for value in values:
        array.InsertNextValue(value)
    return array
