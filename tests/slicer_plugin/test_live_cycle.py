"""The Slicer extension's annotation cycle through its client against a real ptxseg MONAI Label server.

Uses the ``ptxseg_server`` fixture (base URL of a running server over phantom studies) through
``live_server_url``, which skips while that fixture is not defined. Tests run in file order and share one
annotated image; the last ones fine-tune the server's model.
"""

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PneumothoraxAnnotatorLib import (
    FINAL_TAG,
    STRATEGIES,
    Prediction,
    PtxsegClient,
    ServerBusy,
    ServerInfo,
    ServerUnavailable,
    TrainingProgress,
    Unauthorized,
)
from PneumothoraxAnnotatorLib.geometry import read_grid, read_label, write_label
from PneumothoraxAnnotatorLib.grid import Grid

pytestmark = pytest.mark.server

TASK_TIMEOUT_S = float(os.environ.get("PTXSEG_LIVE_TIMEOUT_S", "900"))
POLL_S = 1.0


@dataclass
class AnnotatedImage:
    image_id: str
    image_path: Path
    result: dict
    predicted: np.ndarray
    label_grid: Grid
    edited: np.ndarray
    upload_answer: dict
    folder: Path


def edit_like_an_annotator(mask):
    """Erase the left half of the image and add a block in the right half (so the mask is never empty)."""
    rows, columns = mask.shape
    edited = mask.copy()
    edited[:, : columns // 2] = 0
    edited[rows // 8 : rows // 4, 5 * columns // 8 : 3 * columns // 4] = 1
    return edited


def wait_for_task(read_status):
    """Poll a /train/ or /scoring/ status until the task ends; its final progress."""
    deadline = time.monotonic() + TASK_TIMEOUT_S
    progress = TrainingProgress.from_status(read_status())
    while not progress.finished:
        assert time.monotonic() < deadline, f"task did not end within {TASK_TIMEOUT_S:g} s: {progress.describe()}"
        time.sleep(POLL_S)
        progress = TrainingProgress.from_status(read_status())
    return progress


@pytest.fixture(scope="module")
def client(live_server_url, live_server_token):
    return PtxsegClient(live_server_url, token=live_server_token, timeout=60, infer_timeout=600)


@pytest.fixture(scope="module")
def annotated(client, tmp_path_factory):
    """Next image, its prediction, the annotator's edit, submitted as the final label."""
    folder = tmp_path_factory.mktemp("annotation-cycle")
    image_id = client.next_image("first")
    image_path = client.download_image(image_id, folder)
    label_path, result = client.infer(image_id, folder)
    predicted, label_grid = read_label(label_path)
    edited = edit_like_an_annotator(predicted)
    edited_path = write_label(edited, label_grid, folder / "edited.nrrd")
    answer = client.upload_label(image_id, edited_path, {"annotator": "pytest"})
    return AnnotatedImage(image_id, image_path, result, predicted, label_grid, edited, answer, folder)


def test_info_describes_the_pneumothorax_model(client):
    info = ServerInfo.from_info(client.info())
    assert "pneumothorax" in info.models
    assert set(STRATEGIES) <= set(info.strategies)
    assert info.model_version, "the ptxseg block must name the model version"
    assert info.total_images and info.total_images > 0


def test_the_printed_url_with_its_token_connects_and_a_wrong_token_is_refused(live_server_url, live_server_token):
    printed = PtxsegClient(f"{live_server_url}/?token={live_server_token}", timeout=60)
    assert ServerInfo.from_info(printed.info()).model_version
    with pytest.raises(Unauthorized):
        PtxsegClient(f"{live_server_url}/?token=not-the-token", timeout=60).info()


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_strategy_offers_an_unlabelled_image(client, strategy):
    image_id = client.next_image(strategy)
    objects = client.datastore()["objects"]
    assert image_id in objects
    assert FINAL_TAG not in objects[image_id].get("labels", {})


def test_the_predicted_label_lies_exactly_on_the_images_grid(annotated):
    assert annotated.label_grid.matches(read_grid(annotated.image_path))


def test_the_prediction_is_a_binary_mask_described_by_the_result(annotated):
    assert set(np.unique(annotated.predicted)) <= {0, 1}
    prediction = Prediction.from_result(annotated.result)
    assert prediction.probability is not None and 0.0 <= prediction.probability <= 1.0
    assert prediction.area_px == int(annotated.predicted.sum())
    assert isinstance(annotated.result.get("flag"), bool)
    assert prediction.model_version


def test_the_server_stores_exactly_the_edited_mask(client, annotated):
    assert annotated.upload_answer["image"] == annotated.image_id
    stored_path = client.download_label(annotated.image_id, annotated.folder / "stored", tag=FINAL_TAG)
    stored, stored_grid = read_label(stored_path)
    np.testing.assert_array_equal(stored, annotated.edited)
    assert stored_grid.matches(annotated.label_grid)


def test_a_labelled_image_leaves_the_worklist(client, annotated):
    assert annotated.image_id not in [row.image_id for row in client.worklist()]
    labelled = {row.image_id: row.labelled for row in client.worklist(include_labelled=True)}
    assert labelled[annotated.image_id] is True


def test_scoring_fills_the_worklist_most_likely_first(client, annotated):
    version = ServerInfo.from_info(client.info()).model_version
    try:
        client.start_scoring()
    except ServerBusy:
        pass  # MONAI Label also scores on its own (after labels change); that run fills the worklist alike
    assert wait_for_task(client.scoring_status).state == "done"
    rows = client.worklist(current_model_version=version)
    assert rows, "the phantom studies have unlabelled images left"
    assert all(row.probability is not None and not row.stale for row in rows)
    probabilities = [row.probability for row in rows]
    assert probabilities == sorted(probabilities, reverse=True)


def test_fine_tuning_one_epoch_changes_the_model_version(client, annotated):
    before = ServerInfo.from_info(client.info()).model_version
    client.start_training({"max_epochs": 1})
    progress = wait_for_task(client.training_status)
    assert progress.state == "done", progress.describe()
    after = ServerInfo.from_info(client.info()).model_version
    # The server may keep its current model when the fine-tuned one validates worse (champion/challenger).
    promoted = (progress.result or {}).get("promoted", True)
    assert (after != before) == promoted, f"version {before} -> {after}; {progress.describe()}"


def test_a_server_that_is_down_raises_server_unavailable(closed_port_url):
    with pytest.raises(ServerUnavailable, match=closed_port_url):
        PtxsegClient(closed_port_url, timeout=5).info()
