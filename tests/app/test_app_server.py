"""The MONAI Label app through real HTTP against a real server: info, inference, labels, strategies, training."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from ptxseg.io.labels import write_label
from ptxseg.io.reader import read_cxr
from ptxseg.phantom.demo import DEMO_UID_ROOT
from ptxseg.serving.local_server import infer_all
from tests.support.server_harness import label_grid, training_result

pytestmark = pytest.mark.server

STRATEGIES = ("first", "random", "uncertainty", "triage")
SIIM_ID = "1.2.276.0.7230010.3.1.4.8323329.12671.1517875241.63757"


def test_info_tells_the_truth_about_the_model(app_server):
    info = app_server.get("/info/").json()
    assert "pneumothorax" in info["models"] and "pneumothorax" in info["trainers"]
    assert set(STRATEGIES) <= set(info["strategies"]) and "pneumothorax_scores" in info["scoring"]
    model = info["ptxseg"]["model"]
    assert isinstance(model["version"], int) and model["version"] >= 1
    assert model["weights"] in ("random", "trained") and model["trained"] == (model["weights"] == "trained")
    assert info["ptxseg"]["device"] == "cpu" and info["ptxseg"]["problem"] is None
    assert "config" not in info  # MONAI Label's own Slicer plugin refuses an /info with a top-level config


@pytest.mark.parametrize("image_id", [f"{DEMO_UID_ROOT}.3", "demo-chest-004", SIIM_ID])
def test_infer_returns_a_label_on_exactly_the_images_grid(app_server, image_id, tmp_path):
    response, label_bytes, result = infer_all(app_server, image_id)
    assert response.status_code == 200, response.text
    label_path = tmp_path / f"{image_id}.nrrd"
    label_path.write_bytes(label_bytes)
    image_file = next(app_server.studies.glob(f"{image_id}.*"))
    label = sitk.ReadImage(str(label_path))
    assert label_grid(label_path) == label_grid(image_file)
    values = sitk.GetArrayFromImage(label)
    assert set(np.unique(values)) <= {0, 1}
    assert result["area_px"] == int(values.sum())
    spacing = read_cxr(image_file).spacing
    assert result["area_cm2"] == pytest.approx(result["area_px"] * spacing[0] * spacing[1] / 100, abs=1e-3)
    assert 0.0 <= result["pneumothorax_probability"] <= 1.0
    assert result["side"] in ("left", "right", "both", "none")
    assert result["flag"] == (result["pneumothorax_probability"] >= result["triage_threshold"])
    assert result["postprocess"]["kind"] == "threshold" and isinstance(result["model_version"], int)
    assert result["latencies_ms"]["total"] > 0


@pytest.mark.parametrize(
    ("image_id", "status"),
    [("no-such-image", 404), ("../../etc/passwd", 400), ("/etc/passwd", 400), ("%2e%2e%2fetc%2fpasswd", 400)],
)
def test_unknown_or_hostile_ids_get_a_clear_4xx_and_the_server_keeps_serving(app_server, image_id, status):
    response = app_server.post(f"/infer/pneumothorax?image={image_id}&output=json")
    assert response.status_code == status
    assert response.json()["detail"]
    assert app_server.get("/info/").status_code == 200


def test_a_corrupt_study_is_skipped_at_start_and_refused_with_a_reason(app_server):
    assert "skipping unreadable study corrupt-truncated" in app_server.log()
    response = app_server.post("/infer/pneumothorax?image=corrupt-truncated&output=json")
    assert response.status_code == 422 and "cannot be read" in response.json()["detail"]
    for _ in range(5):
        assert app_server.post("/activelearning/random", json={}).json().get("id") != "corrupt-truncated"


def test_a_submitted_label_is_stored_in_labels_final(app_server, tmp_path):
    image_id = f"{DEMO_UID_ROOT}.5"
    image = read_cxr(app_server.studies / f"{image_id}.dcm")
    mask = np.zeros(image.shape, bool)
    mask[10:40, 5:30] = True
    upload = write_label(mask, like=image, path=tmp_path / "label.nrrd")
    with open(upload, "rb") as stream:
        response = app_server.put(f"/datastore/label?image={image_id}&tag=final", files={"label": stream})
    assert response.status_code == 200, response.text
    stored = app_server.studies / "labels" / "final" / f"{image_id}.nrrd"
    assert np.array_equal(sitk.GetArrayFromImage(sitk.ReadImage(str(stored)))[0] == 1, mask)


def _upload(server, image_id: str, path: Path, tag: str = "final"):
    with open(path, "rb") as stream:
        return server.put(f"/datastore/label?image={image_id}&tag={tag}", files={"label": ("label.nrrd", stream)})


def test_a_wrong_label_gets_a_4xx_and_nothing_is_saved(app_server, tmp_path):
    image_id = "demo-chest-008"
    stored = app_server.studies / "labels" / "final" / f"{image_id}.nrrd"
    assert not stored.exists()
    image = read_cxr(app_server.studies / f"{image_id}.png")
    wrong_grid = sitk.GetImageFromArray(np.zeros(image.shape, np.uint8))
    wrong_grid.SetSpacing((0.5, 0.5))
    wrong_spacing = tmp_path / "wrong-spacing.nrrd"
    sitk.WriteImage(wrong_grid, str(wrong_spacing))
    wrong_shape = tmp_path / "small.nrrd"
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((10, 10), np.uint8)), str(wrong_shape))
    non_binary = write_label(np.full(image.shape, 7, np.uint8), like=image, path=tmp_path / "seven.nrrd")
    not_an_image = tmp_path / "text.nrrd"
    not_an_image.write_text("this is not a label")
    for path in (wrong_spacing, wrong_shape, non_binary, not_an_image):
        response = _upload(app_server, image_id, path)
        assert response.status_code == 422, (path.name, response.text)
        assert "rejected" in response.json()["detail"] or "only 0 and 1" in response.json()["detail"]
    assert _upload(app_server, image_id, non_binary, tag="../../escape").status_code == 400
    assert _upload(app_server, "no-such-image", non_binary).status_code == 404
    assert not stored.exists()
    assert not list(app_server.studies.parent.rglob("escape*"))


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_strategy_offers_an_unlabelled_readable_study(app_server, strategy):
    response = app_server.post(f"/activelearning/{strategy}", json={})
    assert response.status_code == 200, response.text
    image_id = response.json()["id"]
    assert not (app_server.studies / "labels" / "final" / f"{image_id}.nrrd").exists()
    assert image_id != "corrupt-truncated"


def test_triage_and_uncertainty_scores_are_cached_with_the_model_version(app_server):
    assert app_server.post("/activelearning/triage", json={}).status_code == 200
    version = app_server.get("/info/").json()["ptxseg"]["model"]["version"]
    objects = app_server.get("/datastore/?output=all").json()["objects"]
    scored = [obj["image"]["info"] for obj in objects.values() if "ptx_probability" in obj["image"]["info"]]
    assert scored and all(info["ptx_model_version"] == version for info in scored)
    best = max(scored, key=lambda info: info["ptx_probability"])
    chosen = app_server.post("/activelearning/triage", json={}).json()
    assert chosen["ptx_probability"] == pytest.approx(best["ptx_probability"])


@pytest.mark.slow
def test_training_runs_to_completion_and_promotes_over_an_untrained_model(app_server):
    before = app_server.get("/info/").json()["ptxseg"]["model"]
    response = app_server.post("/train/pneumothorax", json={"max_epochs": 1})
    assert response.status_code == 200, response.text
    status = app_server.wait_for_training()
    assert status["status"] == "DONE", status
    result = training_result(status)
    assert result is not None and result["epochs"] == 1 and result["validation_images"] >= 1
    assert result["cpu_threads"] == max(1, len(os.sched_getaffinity(0)) - 1)  # one core left to /infer
    after = app_server.get("/info/").json()["ptxseg"]["model"]
    if not before["trained"]:
        assert result["promoted"] and result["reason"] == "the served model was untrained"
    assert (after["version"] == before["version"] + 1) == result["promoted"]
    if result["promoted"]:
        assert after["trained"] and after["validation_dice"] == pytest.approx(result["challenger_dice"])
        stats = app_server.get("/info/").json()["train_stats"]["pneumothorax"]
        assert stats["status"] == "done" and stats["ptxseg_result"]["promoted"]


@pytest.mark.slow
def test_training_in_two_ddp_processes_through_torchrun(app_server):
    """MONAI Label's multi-GPU path, exercised on CPU: two gloo ranks of ``ptxseg train`` under torchrun."""
    response = app_server.post("/train/pneumothorax", json={"max_epochs": 1, "processes": 2})
    assert response.status_code == 200, response.text
    status = app_server.wait_for_training()
    assert status["status"] == "DONE", status
    result = training_result(status)
    assert result["processes"] == 2 and result["epochs"] == 1
    assert result["challenger_dice"] is not None


def test_unknown_training_options_fail_with_a_clear_status(app_server):
    version = app_server.get("/info/").json()["ptxseg"]["model"]["version"]
    assert app_server.post("/train/pneumothorax", json={"max_epochs": 1, "learning_rat": 0.1}).status_code == 200
    status = app_server.wait_for_training()
    assert status["status"] == "ERROR"
    assert any("unknown training option 'learning_rat'" in line for line in status["details"]), status["details"]
    assert app_server.get("/info/").json()["ptxseg"]["model"]["version"] == version


def test_no_answer_carries_a_server_path_and_unknown_tasks_are_404(app_server):
    listing = app_server.get("/datastore/?output=all")
    objects = listing.json()["objects"]
    labelled = next(key for key, entry in objects.items() if entry.get("labels"))
    answers = {
        "listing": listing,
        "first": app_server.post("/activelearning/first", json={}),
        "random": app_server.post("/activelearning/random", json={}),
        "image info": app_server.get(f"/datastore/image/info?image={labelled}"),
        "label info": app_server.get(f"/datastore/label/info?label={labelled}&tag=final"),
        "infer": app_server.post(f"/infer/pneumothorax?image={labelled}&output=json"),
    }
    for name, answer in answers.items():
        assert answer.status_code == 200, (name, answer.text)
        for folder in (app_server.studies, app_server.studies.parent):
            assert str(folder.resolve()) not in answer.text and str(folder) not in answer.text, name

    unknown = app_server.post("/train/no-such-trainer", json={})
    assert unknown.status_code == 404 and "pneumothorax" in unknown.text
    assert app_server.post("/scoring/no-such-method", json={}).status_code == 404
