"""Undo on Slicer's own vtkSegmentationHistory: it cannot cross images, and it marks the image edited."""

import numpy as np
import slicer
from PneumothoraxAnnotatorLib import AnnotationSession, Prediction, ServerInfo
from PneumothoraxAnnotatorLib.mrml import segments, volumes

from conftest import open_image


def _editor_history(segmentation_node, history=None):
    """The Segment Editor points its history at the shown segmentation (qMRMLSegmentEditorWidget does this)."""
    history = history or slicer.vtkSegmentationHistory()
    history.SetSegmentation(segmentation_node.GetSegmentation())
    return history


def _block(volume, top):
    mask = np.zeros(volumes.image_shape(volume), np.uint8)
    mask[top : top + 50, 100:200] = 1
    return mask


def test_undo_on_the_next_image_cannot_restore_the_previous_outline(volumes_logic, siim_dicoms):
    volume_a, node_a = open_image(volumes_logic, siim_dicoms[0])
    history = _editor_history(node_a)
    segments.set_mask(node_a, volume_a, _block(volume_a, 100), save_state=history.SaveState)
    segments.set_mask(node_a, volume_a, _block(volume_a, 300), save_state=history.SaveState)
    assert history.IsRestorePreviousStateAvailable()

    volume_b, node_b = open_image(volumes_logic, siim_dicoms[1], previous_segmentation=node_a)
    _editor_history(node_b, history)
    assert not history.IsRestorePreviousStateAvailable(), "undo on image B would restore image A's outline"
    assert not volumes_logic.GetMRMLScene().IsNodePresent(node_a)


def test_undo_after_submit_marks_the_image_edited(volumes_logic, siim_dicoms):
    volume, node = open_image(volumes_logic, siim_dicoms[0])
    session = AnnotationSession()
    session.connect("http://server", ServerInfo(model_version="1"))
    session.open_image("a")
    segments.watch_edits(node, session.mark_edited)
    history = _editor_history(node)
    segments.set_mask(node, volume, _block(volume, 100), save_state=history.SaveState)
    session.mark_submitted()

    history.RestorePreviousState()
    assert session.edited and not session.submitted
    assert session.has_unsubmitted_edits, "leaving the image now must ask first"
    assert not segments.read_mask(volumes_logic.GetMRMLScene(), node, volume).any()


def test_predict_over_edits_can_be_undone(volumes_logic, siim_dicoms):
    volume, node = open_image(volumes_logic, siim_dicoms[0])
    history = _editor_history(node)
    edited = _block(volume, 100)
    segments.set_mask(node, volume, edited, save_state=history.SaveState)
    segments.set_mask(node, volume, _block(volume, 400), save_state=history.SaveState)  # the prediction
    history.RestorePreviousState()
    np.testing.assert_array_equal(segments.read_mask(volumes_logic.GetMRMLScene(), node, volume), edited)


def test_session_prediction_is_not_an_edit():
    session = AnnotationSession()
    session.connect("http://server", ServerInfo(model_version="1"))
    session.open_image("a")
    session.set_prediction(Prediction(probability=0.3))
    assert not session.edited
