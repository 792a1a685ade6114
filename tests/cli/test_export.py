"""``ptxseg export``: installing a checkpoint as the app's served model, and a checked ONNX export."""

import json

import numpy as np
import onnxruntime as ort
import pytest
import torch

from ptxseg.cli.main import main
from ptxseg.inference import onnx_check as export
from ptxseg.model.checkpoint import CheckpointMetadata, load_model, save_checkpoint
from ptxseg.model.network import build_architecture
from ptxseg.model.onnx import export_onnx
from ptxseg.phantom.synthetic import make_phantom
from ptxseg.serving.store import PREVIOUS_NAME, RECORD_NAME, SERVED_NAME
from ptxseg.transforms.intensity import normalize
from tests.support.small_model import write_small_checkpoint

SIZE = 64


def _checkpoint(path, dice: float, train: int):
    metadata = CheckpointMetadata(
        encoder="efficientnet-b0", image_size=SIZE, metrics={"per_image_dice": dice}, training_data={"train": train}
    )
    return save_checkpoint(path, build_architecture("efficientnet-b0"), metadata)


@pytest.fixture
def app(tmp_path):
    """A MONAI Label app folder: the model goes to app/model."""
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "main.py").write_text("# the app\n")
    return folder


def test_export_into_an_app_twice_makes_versions_1_and_2(app, tmp_path, capsys):
    first, second = _checkpoint(tmp_path / "a.safetensors", 0.61, 12), _checkpoint(tmp_path / "b.safetensors", 0.7, 40)

    assert main(["export", "--model", str(first), "--app", str(app)]) == 0
    assert main(["export", "--model", str(second), "--app", str(app)]) == 0

    model_dir = app / "model"
    assert (model_dir / SERVED_NAME).read_bytes() == second.read_bytes()
    assert (model_dir / PREVIOUS_NAME).read_bytes() == first.read_bytes()
    record = json.loads((model_dir / RECORD_NAME).read_text())
    assert (record["version"], record["trained"], record["validation_dice"], record["training_images"]) == (
        2,
        True,
        0.7,
        40,
    )
    assert record["source"] == f"ptxseg export {second.resolve()}"
    assert [(entry["version"], entry["checkpoint"]) for entry in record["history"]] == [
        (1, str(first.resolve())),
        (2, str(second.resolve())),
    ]
    assert [entry["validation_dice"] for entry in record["history"]] == [0.61, 0.7]
    printed = capsys.readouterr().out
    assert "as model version 1" in printed and "as model version 2 (validation Dice 0.7000, 40 training" in printed


def test_a_folder_without_main_py_is_the_model_folder_itself(tmp_path):
    checkpoint = _checkpoint(tmp_path / "a.safetensors", 0.5, 3)

    assert main(["export", "--model", str(checkpoint), "--app", str(tmp_path / "models")]) == 0

    assert (tmp_path / "models" / SERVED_NAME).is_file()
    assert json.loads((tmp_path / "models" / RECORD_NAME).read_text())["version"] == 1


def test_a_corrupt_checkpoint_is_refused_and_nothing_changes(app, tmp_path, capsys):
    good = _checkpoint(tmp_path / "good.safetensors", 0.6, 5)
    assert main(["export", "--model", str(good), "--app", str(app)]) == 0
    before = {path.name: path.read_bytes() for path in (app / "model").iterdir()}
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(good.read_bytes()[:5000])  # a truncated download

    status = main(["export", "--model", str(corrupt), "--app", str(app)])

    assert status == 2
    assert "refusing to install it" in capsys.readouterr().err
    assert {path.name: path.read_bytes() for path in (app / "model").iterdir()} == before


@pytest.fixture(scope="module")
def small_checkpoint(tmp_path_factory):
    return write_small_checkpoint(tmp_path_factory.mktemp("model") / "b0.safetensors")


def test_onnx_export_matches_pytorch_and_runs_in_onnxruntime(small_checkpoint, tmp_path, capsys):
    target = tmp_path / "pneumothorax.onnx"

    assert main(["export", "--model", str(small_checkpoint), "--onnx", str(target)]) == 0

    assert "max |ONNX Runtime - PyTorch fp32| = " in capsys.readouterr().out
    phantoms = [make_phantom(SIZE, seed=seed).image for seed in (20, 21)]  # chest-like, unlike the check's seeds
    batch = normalize(np.stack(phantoms).astype(np.float32))[:, None]
    session = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {"image": batch})
    model, _ = load_model(small_checkpoint)
    with torch.inference_mode():
        expected = model(torch.from_numpy(batch)).numpy()
    assert logits.shape == (2, 1, SIZE, SIZE) and expected.std() > 0.1  # logits that vary: agreement means something
    np.testing.assert_allclose(logits, expected, atol=1e-3)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["pneumothorax.onnx"]  # no staging file left


def test_an_export_that_strays_from_pytorch_is_refused(small_checkpoint, tmp_path, monkeypatch, capsys):
    torch.manual_seed(1)
    other_network = build_architecture("efficientnet-b0").eval()
    monkeypatch.setattr(export, "export_onnx", lambda model, size, path: export_onnx(other_network, size, path))
    target = tmp_path / "pneumothorax.onnx"

    status = main(["export", "--model", str(small_checkpoint), "--onnx", str(target)])

    assert status == 2
    assert "above the tolerance 0.001" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
