"""``ptxseg train``: the run folder, resuming, DDP on two gloo processes, and that the recipe really learns."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ptxseg.cli.main import main
from ptxseg.evaluation.metrics import PooledCounts, per_image_dice
from ptxseg.model.checkpoint import load_checkpoint
from ptxseg.phantom.files import write_phantoms

TINY = ["--image-size", "64", "--batch-size", "4", "--encoder", "efficientnet-b0", "--no-augment"]


@pytest.fixture(scope="module")
def phantom_folder(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("train-phantoms")
    write_phantoms(folder, 12, size=64, fmt="png", seed=3)
    return f"folder:{folder / 'images'},{folder / 'masks'}"


def test_train_writes_the_run_folder_and_resumes(phantom_folder, tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--data", phantom_folder, "--out", str(out), "--epochs", "2", *TINY]) == 0
    for name in ("best.safetensors", "last_state.pt", "history.csv", "history.json", "training_curve.png"):
        assert (out / name).is_file(), name
    assert list((out / "tensorboard").iterdir())
    _, metadata = load_checkpoint(out / "best.safetensors")
    assert metadata.encoder == "efficientnet-b0" and metadata.image_size == 64
    assert metadata.training_data == {"specs": [phantom_folder], "train": 11, "validation": 1}
    assert set(metadata.metrics) >= {"per_image_dice", "pooled_dice", "pooled_iou"}
    assert [row["epoch"] for row in json.loads((out / "history.json").read_text())] == [1, 2]

    resumed = ["train", "--data", phantom_folder, "--out", str(out), "--epochs", "3", *TINY]
    assert main([*resumed, "--resume", str(out / "last_state.pt")]) == 0
    history = json.loads((out / "history.json").read_text())
    assert [row["epoch"] for row in history] == [3]  # only the new epoch was run: 1 and 2 came from the state


def test_validation_ids_from_a_file(phantom_folder, tmp_path):
    ids = tmp_path / "val.csv"
    ids.write_text("ImageId\nphantom-0001\nphantom-0002\n")
    out = tmp_path / "run"
    assert (
        main(["train", "--data", phantom_folder, "--out", str(out), "--epochs", "1", "--val-ids", str(ids), *TINY]) == 0
    )
    _, metadata = load_checkpoint(out / "best.safetensors")
    assert metadata.training_data["validation"] == 2 and metadata.training_data["train"] == 10
    assert (out / "val_ids.txt").read_text() == "phantom-0001\nphantom-0002\n"
    evaluation = tmp_path / "eval"
    common = ["--model", str(out / "best.safetensors"), "--data", phantom_folder, "--backend", "torch"]
    assert main(["evaluate", *common, "--ids", str(out / "val_ids.txt"), "--out", str(evaluation)]) == 0
    assert json.loads((evaluation / "metrics.json").read_text())["n_images"] == 2
    ids.write_text("no-such-image\n")
    assert main(["train", "--data", phantom_folder, "--out", str(out), "--val-ids", str(ids), *TINY]) == 2


def test_a_new_model_can_have_dropout_and_fine_tuning_keeps_its_own(phantom_folder, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--data", phantom_folder, "--out", str(out), "--epochs", "1", "--dropout", "0.2", *TINY]) == 0
    assert load_checkpoint(out / "best.safetensors")[1].dropout == 0.2
    tuned = ["train", "--data", phantom_folder, "--out", str(tmp_path / "tuned"), "--epochs", "1", *TINY]
    assert main([*tuned, "--init", str(out / "best.safetensors")]) == 0
    assert load_checkpoint(tmp_path / "tuned" / "best.safetensors")[1].dropout == 0.2
    assert main([*tuned, "--init", str(out / "best.safetensors"), "--dropout", "0.5"]) == 2
    assert "with --init the checkpoint's own dropout is kept" in capsys.readouterr().err


def _validation_metrics(out: Path) -> dict:
    return json.loads((out / "history.json").read_text())[-1]


@pytest.mark.slow
def test_two_gloo_processes_judge_the_model_like_one(phantom_folder, tmp_path):
    """DDP plumbing: sharded validation reduced across ranks equals single-process validation.

    With a learning rate of 1e-9 both runs keep the same initial weights, so their validation must agree.
    """
    common = ["--data", phantom_folder, "--epochs", "1", "--val-fraction", "0.4", "--lr", "1e-9", "--min-lr", "0"]
    single, double = tmp_path / "one", tmp_path / "two"
    assert main(["train", *common, "--out", str(single), *TINY]) == 0
    torchrun = Path(sys.executable).with_name("torchrun")
    completed = subprocess.run(
        [str(torchrun), "--nproc_per_node", "2", "-m", "ptxseg", "train", *common, "--out", str(double), *TINY],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    one, two = _validation_metrics(single), _validation_metrics(double)
    assert one["n_images"] == two["n_images"] == 5
    for name in ("per_image_dice", "pooled_dice", "pooled_iou", "pixel_accuracy"):
        assert two[name] == pytest.approx(one[name], abs=1e-3), name


@pytest.mark.slow
def test_the_recipe_learns_phantoms_from_scratch(trained_phantom_model):
    held_out = trained_phantom_model.held_out
    assert held_out["n_images"] == 16
    assert held_out["per_image_dice"] >= 0.8, held_out
    # An all-empty guess scores 0.5 here (half the images have no pneumothorax): the model must be far better.
    assert trained_phantom_model.empty_guess_dice == pytest.approx(0.5)
    assert held_out["per_image_dice"] - trained_phantom_model.empty_guess_dice >= 0.3
    assert held_out["pooled_dice"] >= 0.8


def test_train_then_evaluate_on_the_real_siim_sample(siim_sample, tmp_path):
    spec = f"siim:{siim_sample / 'dicom'},{siim_sample / 'train-rle.csv'}"
    run, evaluation = tmp_path / "run", tmp_path / "eval"
    arguments = ["--data", spec, "--out", str(run), "--epochs", "2", "--val-fraction", "0.3", "--lr", "1e-3", *TINY]
    assert main(["train", *arguments]) == 0
    _, metadata = load_checkpoint(run / "best.safetensors")
    assert metadata.training_data["train"] + metadata.training_data["validation"] == 7
    options = ["--backend", "torch", "--save-masks", "--batch-size", "1"]
    assert (
        main(["evaluate", "--model", str(run / "best.safetensors"), "--data", spec, "--out", str(evaluation), *options])
        == 0
    )
    metrics = json.loads((evaluation / "metrics.json").read_text())
    pooled, dice = PooledCounts(), []
    for truth_path in sorted((siim_sample / "masks").glob("*.png")):
        predicted = np.asarray(Image.open(evaluation / "masks" / truth_path.name)) > 0
        truth = np.asarray(Image.open(truth_path)) > 0
        assert predicted.shape == truth.shape == (1024, 1024)
        pooled.add(predicted, truth)
        dice.append(per_image_dice(predicted, truth))
    assert metrics["n_images"] == 7
    assert metrics["per_image_dice"] == pytest.approx(np.mean(dice))
    assert metrics["pooled_dice"] == pytest.approx(pooled.dice) and metrics["pooled_iou"] == pytest.approx(pooled.iou)
