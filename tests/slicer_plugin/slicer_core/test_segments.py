"""A removed or extra segment: Predict recreates the pneumothorax segment, Submit says clearly what is missing."""

import numpy as np
import pytest
from PneumothoraxAnnotatorLib.mrml import labels, segments, volumes

from conftest import open_image


def test_a_removed_segment_gives_the_clear_message(volumes_logic, siim_dicoms, tmp_path):
    volume, node = open_image(volumes_logic, siim_dicoms[0])
    node.GetSegmentation().RemoveAllSegments()
    with pytest.raises(segments.SegmentMissing, match="pneumothorax segment was removed"):
        labels.export_label(volumes_logic, node, volume, tmp_path / "label.nrrd")
    assert not (tmp_path / "label.nrrd").exists()


def test_predict_recreates_a_removed_segment(volumes_logic, siim_dicoms):
    volume, node = open_image(volumes_logic, siim_dicoms[0])
    node.GetSegmentation().RemoveSegment(segments.SEGMENT_ID)
    mask = np.zeros(volumes.image_shape(volume), np.uint8)
    mask[200:260, 500:600] = 1
    segments.set_mask(node, volume, mask)
    assert node.GetSegmentation().GetSegment(segments.SEGMENT_ID) is not None
    np.testing.assert_array_equal(segments.read_mask(volumes_logic.GetMRMLScene(), node, volume), mask)


def test_an_empty_segment_reads_as_an_empty_mask(volumes_logic, siim_dicoms):
    volume, node = open_image(volumes_logic, siim_dicoms[0])
    mask = segments.read_mask(volumes_logic.GetMRMLScene(), node, volume)
    assert mask.shape == volumes.image_shape(volume) and not mask.any()
