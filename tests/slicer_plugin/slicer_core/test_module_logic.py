"""The module file on slicer-core: it imports, *Reload and Test* without a server says skipped, and its Logic
runs the annotation cycle on real MRML against the live server."""

import os
import types
import unittest

import numpy as np
import pytest
import slicer
import slicer_app
from PneumothoraxAnnotatorLib.mrml import segments


@pytest.fixture
def module(volumes_logic, tmp_path, monkeypatch):
    slicer_app.install(volumes_logic, tmp_path / "slicer-temp")
    import PneumothoraxAnnotator

    return PneumothoraxAnnotator


@pytest.fixture
def logic(module, client):
    logic = module.PneumothoraxAnnotatorLogic()
    logic.connect(client.server_url, os.environ.get("PTXSEG_SERVER_TOKEN"))
    return logic


def test_reload_and_test_without_a_server_reports_skipped(module, monkeypatch):
    monkeypatch.delenv("PTXSEG_SERVER_URL", raising=False)
    try:
        outcome = module.PneumothoraxAnnotator(types.SimpleNamespace()).runTest()
    except unittest.SkipTest as skipped:  # Reload and Test turns any exception into a failure popup
        pytest.fail(f"Reload and Test without a server shows a failure: SkipTest({skipped}) escaped")
    assert outcome == "skipped"


def test_submit_needs_an_edit_or_an_explicit_accept(logic, images):
    logic.openImage(images["phantom_dicom"])
    logic.predict()
    assert not logic.session.can_submit
    with pytest.raises(ValueError, match="Accept prediction as is"):
        logic.submit("Dr. S")
    logic.acceptPrediction()
    logic.submit("Dr. S")
    info = logic.client.datastore()["objects"][images["phantom_dicom"]]["labels"]["final"]["info"]
    assert info["annotator"] == "Dr. S" and info["accepted_as_is"] is True


def test_predict_over_edits_saves_an_undo_state(logic, images):
    logic.openImage(images["coronal"])
    history = slicer.vtkSegmentationHistory()
    history.SetSegmentation(logic.getParameterNode().segmentation.GetSegmentation())
    logic.saveUndoState = history.SaveState
    edited = np.zeros(logic.imageShape(logic.getParameterNode().imageVolume), np.uint8)
    edited[5:40, 5:40] = 1
    logic.setSegmentArray(edited)
    assert logic.session.prediction_replaces_edits
    logic.predict()
    assert not logic.session.edited
    history.RestorePreviousState()
    np.testing.assert_array_equal(logic.segmentArray(), edited)
    assert logic.session.edited, "the undo brings the edits back, and they count as unsubmitted"


def test_a_removed_segment_is_recreated_with_a_clear_message(logic, images):
    logic.openImage(images["siim"])
    logic.setSegmentArray(np.ones(logic.imageShape(logic.getParameterNode().imageVolume), np.uint8))
    logic.getParameterNode().segmentation.GetSegmentation().RemoveAllSegments()
    with pytest.raises(segments.SegmentMissing, match="pneumothorax segment was removed"):
        logic.submit("Dr. S")
    assert logic.getParameterNode().segmentation.GetSegmentation().GetSegment(segments.SEGMENT_ID) is not None


def test_downloads_keep_only_the_open_image_and_go_with_it(logic, images):
    logic.openImage(images["siim"])
    logic.openImage(images["coronal"])
    assert [path.name.startswith(images["coronal"][:20]) for path in logic.downloads.root.iterdir()] == [True]
    logic.closeImage()
    assert not logic.downloads.root.exists()


def test_back_reopens_the_previous_image_with_its_label_and_undo_cannot_cross(logic, images):
    logic.openImage(images["coronal"])
    first = logic.getParameterNode().segmentation
    mask = np.zeros(logic.imageShape(logic.getParameterNode().imageVolume), np.uint8)
    mask[30:50, 60:90] = 1
    logic.setSegmentArray(mask)
    logic.submit("Dr. B")
    logic.openImage(images["phantom_dicom"])
    assert logic.getParameterNode().segmentation is not first, "each image gets a new node (and undo history)"
    logic.openImage(logic.session.previous_image_id, goingBack=True)
    assert logic.session.image_id == images["coronal"] and logic.session.submitted
    np.testing.assert_array_equal(logic.segmentArray(), mask)


def test_the_threshold_slider_recuts_the_outline_from_the_map(logic, images):
    logic.openImage(images["phantom_dicom"])
    logic.predict()
    probability = logic.getParameterNode().probability
    assert probability is not None
    cut = logic.recutMask(0.3)
    assert logic.session.edited, "re-cutting is the annotator's edit"
    np.testing.assert_array_equal(logic.segmentArray(), cut)
