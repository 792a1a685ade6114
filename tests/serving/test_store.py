"""The served model's folder: install keeps the previous model and bumps the version, an unloadable model is set
aside and the previous one restored, and the record survives odd contents."""

from __future__ import annotations

import json

import pytest

from ptxseg.serving.served_model import ServedModel
from ptxseg.serving.settings import ServingSettings
from ptxseg.serving.store import HISTORY_LENGTH, LOCK_NAME, ModelRecord, ModelStore
from tests.support.small_model import write_small_checkpoint


def _file(folder, name: str, content: bytes):
    path = folder / name
    path.write_bytes(content)
    return path


def test_install_serves_the_new_model_keeps_the_old_one_and_bumps_the_version(tmp_path):
    store = ModelStore(tmp_path / "model")
    assert not store.has_model() and store.read_record() == ModelRecord(updated=store.read_record().updated)

    first = store.install(_file(tmp_path, "a.safetensors", b"A"), trained=False, weights="random", source="initial")
    second = store.install(
        _file(tmp_path, "b.safetensors", b"B"), trained=True, validation_dice=0.8, training_images=12, outcome={"n": 1}
    )

    assert (first.version, second.version) == (1, 2)
    assert store.served_path.read_bytes() == b"B" and store.previous_path.read_bytes() == b"A"
    record = store.read_record()
    assert record.trained and record.validation_dice == 0.8 and record.training_images == 12
    assert record.history == [{"n": 1, "version": 2}]
    assert sorted(path.name for path in store.directory.iterdir()) == sorted(
        [store.served_path.name, store.previous_path.name, store.record_path.name, LOCK_NAME]
    )  # no temporary file left behind


def test_an_outcome_that_changes_nothing_is_recorded_and_the_history_is_bounded(tmp_path):
    store = ModelStore(tmp_path / "model")
    store.install(_file(tmp_path, "a.safetensors", b"A"), trained=True)
    for run in range(HISTORY_LENGTH + 5):
        store.note_outcome({"run": run, "promoted": False})

    record = store.read_record()
    assert record.version == 1 and len(record.history) == HISTORY_LENGTH
    assert record.history[-1] == {"run": HISTORY_LENGTH + 4, "promoted": False, "version": 1}


def test_reject_moves_the_served_model_aside_and_the_previous_one_can_be_restored(tmp_path):
    store = ModelStore(tmp_path / "model")
    store.install(_file(tmp_path, "a.safetensors", b"A"), trained=True)
    store.install(_file(tmp_path, "b.safetensors", b"B"), trained=True)

    rejected = store.reject_served()
    assert not store.has_model() and rejected.read_bytes() == b"B"
    assert rejected.name.startswith("pneumothorax.rejected-")
    store.install(store.previous_path, trained=True, source="restored previous")

    assert store.served_path.read_bytes() == b"A" and store.read_record().version == 3


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"version": "x", "trained": true, "future_key": 1}'])
def test_an_odd_record_never_stops_serving(tmp_path, content):
    store = ModelStore(tmp_path / "model")
    store.directory.mkdir()
    store.record_path.write_text(content)
    record = store.read_record()
    assert isinstance(record, ModelRecord)


def test_a_record_from_a_newer_ptxseg_keeps_what_it_knows(tmp_path):
    values = {"version": 4, "trained": True, "validation_dice": 0.7, "added_later": "ignored"}
    assert ModelRecord.from_dict(values).version == 4
    store = ModelStore(tmp_path / "model")
    store.directory.mkdir()
    store.record_path.write_text(json.dumps(values))
    assert store.read_record().validation_dice == 0.7


def test_a_corrupt_served_model_is_set_aside_and_the_previous_one_served(tmp_path):
    store = ModelStore(tmp_path / "model")
    store.install(write_small_checkpoint(tmp_path / "good.safetensors"), trained=True)
    store.install(_file(tmp_path, "corrupt.safetensors", b"not a model"), trained=True)

    served = ServedModel(ServingSettings(image_size=64, encoder="efficientnet-b0", device="cpu"), store.directory)

    assert served.problem.startswith("the served model could not be loaded (")
    assert served.problem.endswith("; serving the previous model")
    assert served.store.served_path.read_bytes() == (tmp_path / "good.safetensors").read_bytes()
    assert len(list(store.directory.glob("pneumothorax.rejected-*.safetensors"))) == 1
    assert served.record.source == "restored previous" and served.describe()["problem"] == served.problem
