"""The probability overlay end to end: served map on the image's grid, shown, re-cut at a threshold."""

import numpy as np
from PneumothoraxAnnotatorLib.mrml import labels, overlay, segments, volumes

from conftest import open_image


def test_probability_overlay_and_threshold_recut(images, client, volumes_logic, tmp_path):
    scene = volumes_logic.GetMRMLScene()
    image_id = images["phantom_dicom"]
    volume, node = open_image(volumes_logic, client.download_image(image_id, tmp_path))
    map_path, _ = client.infer(image_id, tmp_path, probability=True)
    probabilities = overlay.load_probability(volumes_logic, map_path, volume)
    values = volumes.voxels(probabilities)
    assert values.dtype == np.float32 and 0.0 <= values.min() and values.max() <= 1.0

    composite = scene.AddNewNodeByClass("vtkMRMLSliceCompositeNode")
    overlay.show_overlay(scene, probabilities, 0.4)
    assert composite.GetForegroundVolumeID() == probabilities.GetID() and composite.GetForegroundOpacity() == 0.4

    threshold = float(np.median(values)) or 0.5
    cut = overlay.cut_mask(node, volume, probabilities, threshold)
    np.testing.assert_array_equal(cut, values >= threshold)
    np.testing.assert_array_equal(segments.read_mask(scene, node, volume), cut)

    mask = labels.read_server_label(volumes_logic, client.infer(image_id, tmp_path)[0], volume)
    recut = values >= 0.5
    agreement = (mask.astype(bool) == recut).mean()
    assert agreement > 0.97, f"the map at 0.5 should give the server's mask (min-area aside), agreement {agreement}"
