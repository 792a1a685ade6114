"""The edited outline goes to the server as Slicer exports it: accepted, stored equal, with who labelled it."""

import numpy as np
from PneumothoraxAnnotatorLib import label_info
from PneumothoraxAnnotatorLib.mrml import labels, segments, volumes

from conftest import open_image


def test_exported_nrrd_is_accepted_and_equals_the_edited_mask(images, client, volumes_logic, tmp_path):
    scene = volumes_logic.GetMRMLScene()
    image_id = images["coronal"]
    volume, node = open_image(volumes_logic, client.download_image(image_id, tmp_path))
    predicted = labels.read_server_label(volumes_logic, client.infer(image_id, tmp_path)[0], volume)
    segments.set_mask(node, volume, predicted)
    edited = segments.read_mask(scene, node, volume)
    edited[:, : edited.shape[1] // 2] = 0
    edited[10:30, 90:120] = 1
    segments.set_mask(node, volume, edited)
    stroke = np.zeros_like(edited)
    stroke[60:70, 5:15] = 1  # drawn in another segment: part of the outline, not dropped
    other = node.GetSegmentation().AddEmptySegment("other", "drawn elsewhere")
    segments.set_mask(node, volume, stroke, segment_id=other)

    path = labels.export_label(volumes_logic, node, volume, tmp_path / "label.nrrd")
    client.upload_label(image_id, path, label_info("Dr. Test Annotator", accepted_as_is=False))

    stored = labels.read_server_label(volumes_logic, client.download_label(image_id, tmp_path / "stored"), volume)
    np.testing.assert_array_equal(stored, edited | stroke)
    info = client.datastore()["objects"][image_id]["labels"]["final"]["info"]
    assert info["annotator"] == "Dr. Test Annotator" and info["accepted_as_is"] is False


def test_go_back_reopens_the_submitted_label(images, client, volumes_logic, tmp_path):
    image_id = images["phantom_dicom"]
    volume, node = open_image(volumes_logic, client.download_image(image_id, tmp_path))
    mask = np.zeros(volumes.image_shape(volume), np.uint8)
    mask[5:25, 40:70] = 1
    segments.set_mask(node, volume, mask)
    client.upload_label(image_id, labels.export_label(volumes_logic, node, volume, tmp_path / "l.nrrd"), {})

    reopened, again = open_image(volumes_logic, client.download_image(image_id, tmp_path / "again"), node)
    stored = labels.read_server_label(volumes_logic, client.download_label(image_id, tmp_path / "again"), reopened)
    segments.set_mask(again, reopened, stored)
    np.testing.assert_array_equal(segments.read_mask(volumes_logic.GetMRMLScene(), again, reopened), mask)
