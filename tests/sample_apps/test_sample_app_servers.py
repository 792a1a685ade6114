"""Each sample app as a new user starts it (``ptxseg serve --app sample-apps/<kind>``), through real HTTP: /info
lists the recipe's members, /infer labels phantoms and real SIIM DICOMs on their own grids, fine-tuning ends on a
promotion decision, and a bad setting stops the start with one line."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import SimpleITK as sitk

from ptxseg.phantom.demo import DEMO_UID_ROOT
from ptxseg.serving.check_conf import BAD_CONF_STATUS
from ptxseg.serving.local_server import infer_all
from tests.conftest import REPO_ROOT
from tests.support.server_harness import label_grid, make_test_studies, training_result

pytestmark = [pytest.mark.server, pytest.mark.slow]

SIIM_ID = "1.2.276.0.7230010.3.1.4.8323329.12671.1517875241.63757"
CONF = {
    "ensemble": {"members": "efficientnet-b0,efficientnet-b1"},
    "two_stage": {"classifier_threshold": "0.4"},
}
# Small and fast, as the main app's tests: b0 networks at 64 px on CPU, one epoch.
SMALL = {"image_size": "64", "encoder": "efficientnet-b0", "batch_size": "4", "epochs": "1"}


@pytest.fixture(scope="module", params=["ensemble", "two_stage"])
def sample_app(request, tmp_path_factory, siim_sample):
    from ptxseg.serving.local_server import running_server

    kind = request.param
    root = tmp_path_factory.mktemp(kind)
    studies = make_test_studies(root / "studies", siim_sample, n_phantoms=6)
    conf = {**SMALL, **CONF[kind]}
    with running_server(studies, root / "model", conf, app=REPO_ROOT / "sample-apps" / kind) as server:
        yield kind, server


def test_the_app_answers_info_with_its_members_and_their_versions(sample_app):
    kind, server = sample_app
    info = server.get("/info/").json()
    assert "pneumothorax" in info["models"] and "pneumothorax" in info["trainers"]
    served = info["ptxseg"]
    assert served["kind"] == kind and served["problem"] is None
    version = served["model"]["version"]
    roles = [(member["role"], member["encoder"], member["version"]) for member in served["members"]]
    if kind == "ensemble":
        assert roles == [("unet", "efficientnet-b0", version), ("unet", "efficientnet-b1", version)]
        assert served["options"]["hflip"] is True and served["options"]["postprocess"]["kind"] == "triplet"
    else:
        assert roles == [("unet", "efficientnet-b0", version), ("classifier", "efficientnet-b0", version)]
        assert served["options"]["classifier_threshold"] == 0.4


@pytest.mark.parametrize("image_id", [f"{DEMO_UID_ROOT}.3", "demo-chest-004", SIIM_ID])
def test_infer_returns_the_probability_and_a_mask_on_the_images_grid(sample_app, image_id, tmp_path):
    kind, server = sample_app
    response, label_bytes, result = infer_all(server, image_id)
    assert response.status_code == 200, response.text
    label_path = tmp_path / "label.nrrd"
    label_path.write_bytes(label_bytes)
    assert label_grid(label_path) == label_grid(next(server.studies.glob(f"{image_id}.*")))
    values = sitk.GetArrayFromImage(sitk.ReadImage(str(label_path)))
    assert set(np.unique(values)) <= {0, 1} and result["area_px"] == int(values.sum())
    assert 0.0 <= result["pneumothorax_probability"] <= 1.0
    if kind == "ensemble":
        assert result["backend"].startswith("ensemble(2 x ") and result["postprocess"]["kind"] == "triplet"
    elif result["pneumothorax_probability"] < 0.4:  # the classifier said no: the mask must be empty
        assert result["area_px"] == 0


def test_fine_tuning_trains_every_member_and_decides_on_the_recipe_as_a_whole(sample_app):
    kind, server = sample_app
    before = server.get("/info/").json()["ptxseg"]["model"]
    response = server.post("/train/pneumothorax", json={"max_epochs": 1})
    assert response.status_code == 200, response.text
    status = server.wait_for_training()
    assert status["status"] == "DONE", status
    result = training_result(status)
    assert result["kind"] == kind and isinstance(result["challenger_dice"], float)
    assert len(result["members"]) == 2  # two U-Nets, or the U-Net and the classifier
    assert result["promoted"] and result["reason"] == "the served model was untrained"  # it started untrained
    after = server.get("/info/").json()["ptxseg"]
    assert after["model"]["version"] == before["version"] + 1 and after["model"]["trained"]
    assert {member["version"] for member in after["members"]} == {after["model"]["version"]}


@pytest.mark.parametrize(
    ("kind", "key", "value", "words"),
    [
        ("ensemble", "members", "efficientnet-b0", "two or more encoders"),
        ("two_stage", "classifier_threshold", "2", "classifier_threshold"),
    ],
)
def test_a_bad_setting_stops_the_start_with_one_line(tmp_path, kind, key, value, words):
    command = [sys.executable, "-m", "ptxseg", "serve", "--app", str(REPO_ROOT / "sample-apps" / kind)]
    command += ["--studies", str(tmp_path), "--conf", key, value]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert finished.returncode == BAD_CONF_STATUS, finished.stderr
    assert words in finished.stderr and finished.stderr.strip().count("\n") == 0
