"""Checkpoints: round trips, metadata, clear errors for the wrong architecture, atomic writes, no code execution."""

import json
import os
import pickle
import shlex

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from ptxseg.model import weights_file
from ptxseg.model.checkpoint import CheckpointMetadata, load_checkpoint, load_model, save_checkpoint
from ptxseg.model.network import build_architecture
from ptxseg.transforms.postprocess import TripletPostprocess

TRIPLET = {"kind": "triplet", "top_threshold": 0.75, "min_area": 500, "bottom_threshold": 0.3}


@pytest.fixture(scope="module")
def b0_model():
    torch.manual_seed(3)
    return build_architecture("efficientnet-b0").eval()


class _RunsCode:
    """A pickle payload: unpickling it runs a shell command that creates ``marker``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {shlex.quote(str(self.marker))}",))


def _assert_same_weights(first: dict, second: dict) -> None:
    assert first.keys() == second.keys()
    assert all(torch.equal(first[key], second[key]) for key in first)


def test_safetensors_round_trip_rebuilds_the_model(tmp_path, b0_model):
    path = save_checkpoint(
        tmp_path / "model.safetensors",
        b0_model,
        {"metrics": {"pooled_dice": 0.82}, "postprocess": TRIPLET, "training_data": {"images": 7}, "created": "old"},
    )
    with safe_open(path, framework="pt") as file:  # metadata is one JSON string in the safetensors header
        header = json.loads(file.metadata()["ptxseg_metadata"])
    assert header["encoder"] == "efficientnet-b0"

    model, metadata = load_model(path)

    _assert_same_weights(model.state_dict(), b0_model.state_dict())
    assert not model.training
    assert metadata.encoder == "efficientnet-b0" and metadata.in_channels == 1
    assert metadata.metrics == {"pooled_dice": 0.82}
    assert metadata.training_data == {"images": 7}
    assert metadata.encoder_weights == "random"
    assert metadata.created.startswith("20")  # stamped when written
    assert metadata.postprocessor() == TripletPostprocess(top_threshold=0.75, min_area=500, bottom_threshold=0.3)
    assert model.ptxseg_encoder_weights == f"checkpoint:{path.resolve()}"
    image = torch.rand(1, 1, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(image), b0_model(image))


def test_torch_format_round_trip(tmp_path, b0_model):
    path = save_checkpoint(tmp_path / "model.pt", b0_model, CheckpointMetadata(encoder="efficientnet-b0"))
    state_dict, metadata = load_checkpoint(path)
    _assert_same_weights(state_dict, b0_model.state_dict())
    assert metadata.encoder == "efficientnet-b0"


def test_bare_state_dict_of_another_encoder_is_named(tmp_path, b0_model):
    path = tmp_path / "bare.pth"
    torch.save(b0_model.state_dict(), path)
    state_dict, metadata = load_checkpoint(path)
    assert metadata is None
    # Without metadata the default (b4) is assumed; the shapes identify the file as b0.
    with pytest.raises(
        ValueError, match="is for efficientnet-b0 with in_channels=1, but its metadata expects efficientnet-b4"
    ):
        load_model(path)


def test_b0_weights_under_b4_metadata_are_named(tmp_path, b0_model):
    path = tmp_path / "mislabelled.safetensors"
    metadata = json.dumps(CheckpointMetadata(encoder="efficientnet-b4").to_dict())
    save_file(b0_model.state_dict(), path, metadata={"ptxseg_metadata": metadata})
    with pytest.raises(ValueError, match="is for efficientnet-b0 .* expects efficientnet-b4"):
        load_model(path)


def test_foreign_state_dict_reports_counts_not_a_wall_of_keys(tmp_path, b0_model):
    path = tmp_path / "foreign.pt"
    expected_keys = len(b0_model.state_dict())
    torch.save({"state_dict": {"conv.weight": torch.zeros(2, 2)}, "metadata": {"encoder": "efficientnet-b0"}}, path)
    with pytest.raises(ValueError, match=rf"{expected_keys} of {expected_keys} keys missing .* 1 unexpected") as error:
        load_model(path)
    assert len(str(error.value)) < 1000


def test_metadata_rejects_unknown_keys_and_bad_postprocess(b0_model, tmp_path):
    with pytest.raises(ValueError, match=r"unknown checkpoint metadata keys \['encoer'\]"):
        CheckpointMetadata.from_dict({"encoer": "efficientnet-b4"})
    with pytest.raises(ValueError, match="unknown post-processing kind"):
        CheckpointMetadata(postprocess={"kind": "nonsense"})
    with pytest.raises(ValueError, match="unknown checkpoint metadata keys"):
        save_checkpoint(tmp_path / "x.safetensors", b0_model, {"learning_rate": 1e-3})
    assert not (tmp_path / "x.safetensors").exists()


def test_metadata_round_trips_through_dict():
    metadata = CheckpointMetadata(encoder="efficientnet-b2", metrics={"dice": 0.5}, created="2024-01-01T00:00:00+00:00")
    assert CheckpointMetadata.from_dict(metadata.to_dict()) == metadata
    assert CheckpointMetadata().image_size == 512


def test_metadata_update_checks_like_from_dict():
    metadata = CheckpointMetadata()
    metadata.update(metrics={"pooled_dice": 0.8}, postprocess=TRIPLET)
    assert metadata.metrics == {"pooled_dice": 0.8}
    assert metadata.postprocessor().min_area == 500
    with pytest.raises(ValueError, match="unknown checkpoint metadata keys"):
        metadata.update(learning_rate=1e-3)
    with pytest.raises(ValueError, match="min_area"):
        metadata.update(postprocess={"kind": "threshold", "min_area": -5})
    assert metadata.postprocess == TRIPLET


def test_encoder_weight_source_comes_from_the_model_unless_given(tmp_path, b0_model):
    b0_model.ptxseg_encoder_weights = "imagenet:/models/efficientnet-b0-355c32eb.pth"
    try:
        first = save_checkpoint(tmp_path / "first.safetensors", b0_model, CheckpointMetadata(encoder="efficientnet-b0"))
        kept = save_checkpoint(tmp_path / "kept.safetensors", b0_model, {"encoder_weights": "random"})
    finally:
        b0_model.ptxseg_encoder_weights = "random"
    assert load_checkpoint(first)[1].encoder_weights == "imagenet:/models/efficientnet-b0-355c32eb.pth"
    assert load_checkpoint(kept)[1].encoder_weights == "random"


def test_metadata_must_agree_with_the_model(tmp_path, b0_model):
    with pytest.raises(ValueError, match="metadata describes efficientnet-b4 .* model is efficientnet-b0"):
        save_checkpoint(tmp_path / "x.safetensors", b0_model, {"encoder": "efficientnet-b4"})
    with pytest.raises(ValueError, match="build_model"):
        save_checkpoint(tmp_path / "x.safetensors", torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match=".safetensors"):
        save_checkpoint(tmp_path / "x.onnx", b0_model)
    assert sorted(os.listdir(tmp_path)) == []  # no temporary file left behind


def test_failed_write_leaves_the_old_checkpoint_intact(tmp_path, b0_model, monkeypatch):
    path = save_checkpoint(tmp_path / "model.safetensors", b0_model, {"metrics": {"dice": 0.1}})
    before = path.read_bytes()

    def crash_midway(tensors, filename, metadata=None):
        with open(filename, "wb") as file:
            file.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(weights_file, "save_file", crash_midway)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, b0_model, {"metrics": {"dice": 0.9}})
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.safetensors"]


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # torch notes the raw pickle's protocol first
@pytest.mark.parametrize("writer", ["pickle", "torch.save"])
def test_pickle_with_code_is_refused_and_never_runs(tmp_path, writer):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    if writer == "pickle":
        path.write_bytes(pickle.dumps(_RunsCode(marker)))
    else:
        torch.save({"state_dict": _RunsCode(marker)}, path)

    with pytest.raises(ValueError, match="not a safe checkpoint"):
        load_checkpoint(path)
    with pytest.raises(ValueError, match="not a safe checkpoint"):
        load_model(path)
    assert not marker.exists()

    proof = tmp_path / "payload_works"
    pickle.loads(pickle.dumps(_RunsCode(proof)))  # the payload is real: plain unpickling runs it
    assert proof.exists()


def test_unreadable_files_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "absent.safetensors")
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!")
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        load_checkpoint(broken)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(b"PK\x03\x04 truncated zip")
    with pytest.raises(ValueError, match="not a readable PyTorch checkpoint"):
        load_checkpoint(truncated)
    other = tmp_path / "model.onnx"
    other.write_bytes(b"")
    with pytest.raises(ValueError, match="unknown checkpoint format"):
        load_checkpoint(other)
    tensor_only = tmp_path / "tensor.pt"
    torch.save(torch.zeros(2), tensor_only)
    with pytest.raises(ValueError, match="holds no state dict"):
        load_checkpoint(tensor_only)
