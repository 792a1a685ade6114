"""``ptxseg train --kind ensemble|two_stage`` writes one bundle of every member, judged as a whole, and fine-tunes
from one (``--init``); ``ptxseg evaluate`` reads it as it reads a checkpoint."""

from __future__ import annotations

import json

import pytest

from ptxseg.cli.main import main
from ptxseg.model.bundle import load_bundle
from ptxseg.phantom.files import write_phantoms

pytestmark = pytest.mark.slow

# One step of one epoch: the plumbing, not the learning (tests/cli/test_compare.py judges trained recipes).
FLAGS = [
    "--image-size", "64", "--batch-size", "4", "--epochs", "1", "--max-steps-per-epoch", "1", "--no-augment",
    "--encoder", "efficientnet-b0", "--device", "cpu", "--bn-recalibration-batches", "1", "--val-fraction", "0.25",
]  # fmt: skip


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("phantoms")
    write_phantoms(folder, 8, size=64, difficulty=0.2)
    return f"folder:{folder / 'images'},{folder / 'masks'}"


@pytest.mark.parametrize(("kind", "roles"), [("ensemble", ["unet", "unet"]), ("two_stage", ["unet", "classifier"])])
def test_train_writes_a_bundle_and_fine_tunes_from_it(tmp_path, data, kind, roles):
    members = ["--members", "efficientnet-b0,efficientnet-b1"] if kind == "ensemble" else []
    out = tmp_path / "run"
    assert main(["train", "--kind", kind, *members, "--data", data, *FLAGS, "--out", str(out)]) == 0
    bundle = load_bundle(out / "best.safetensors")
    assert bundle.kind == kind and [member["role"] for member in bundle.describe()] == roles
    assert bundle.metrics["n_images"] == 2 and (out / "val_ids.txt").read_text().count("\n") == 2
    again = tmp_path / "again"
    init = ["--init", str(out / "best.safetensors")]
    assert main(["train", "--kind", kind, "--data", data, *FLAGS, *init, "--out", str(again)]) == 0
    assert [m["encoder"] for m in load_bundle(again / "best.safetensors").describe()] == [
        m["encoder"] for m in bundle.describe()
    ]
    evaluation = tmp_path / "evaluation"
    assert main(["evaluate", "--model", str(again / "best.safetensors"), "--data", data, "--out", str(evaluation)]) == 0
    assert json.loads((evaluation / "metrics.json").read_text())["n_images"] == 8


def test_fine_tuning_a_bundle_as_another_kind_is_refused(tmp_path, data):
    out = tmp_path / "run"
    assert main(["train", "--kind", "two_stage", "--data", data, *FLAGS, "--out", str(out)]) == 0
    init = ["--init", str(out / "best.safetensors")]
    assert main(["train", "--kind", "ensemble", "--data", data, *FLAGS, *init, "--out", str(tmp_path / "x")]) == 2
