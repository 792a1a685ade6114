"""The model record always describes the model file served, whatever step of an install a crash cuts.

Before the record named its file's digest, a crash after the new model file and before its record served the new
model under its predecessor's record (version, Dice, source). Here each install is cut at every one of its writes
(a crash in place of the n-th ``os.replace``, the moment a file appears), then a fresh store reads the folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ptxseg.serving.store import ModelStore


class _Crash(BaseException):
    """The process dies here: nothing after it runs (a BaseException, so no ``except Exception`` absorbs it)."""


def _model(folder: Path, name: str) -> Path:
    """A stand-in checkpoint whose bytes say which model it is (the store never looks inside)."""
    path = folder / f"{name}.safetensors"
    path.write_bytes(f"weights of {name}\n".encode() * 1000)
    return path


def _served_name(store: ModelStore) -> str:
    return store.served_path.read_bytes().split(b"\n")[0].decode().removeprefix("weights of ")


def _crash_at(monkeypatch, n: int) -> list:
    """Crash in place of the ``n``-th ``os.replace``; returns the targets of those called so far."""
    calls = []
    real_replace = os.replace

    def replace(source, target):
        calls.append(target)
        if len(calls) == n:
            raise _Crash(f"crash before writing {Path(target).name}")
        return real_replace(source, target)

    monkeypatch.setattr(os, "replace", replace)
    return calls


def _installed(folder: Path, names: list[str]) -> ModelStore:
    store = ModelStore(folder / "model")
    for name in names:
        store.install(_model(folder, name), trained=True, source=name)
    return store


def test_the_crash_points_cover_every_write(tmp_path, monkeypatch):
    store = _installed(tmp_path, ["first"])
    calls = _crash_at(monkeypatch, 99)
    store.install(_model(tmp_path, "second"), trained=True, source="second")
    assert [Path(target) for target in calls] == [store.previous_path, store.served_path, store.record_path]


@pytest.mark.parametrize("crash_at", [1, 2, 3])
def test_a_crash_at_any_write_of_an_install_leaves_model_and_record_agreeing(tmp_path, monkeypatch, crash_at):
    _installed(tmp_path, ["first", "second"])
    _crash_at(monkeypatch, crash_at)
    with pytest.raises(_Crash):
        ModelStore(tmp_path / "model").install(_model(tmp_path, "third"), trained=True, source="third")
    monkeypatch.undo()

    restarted = ModelStore(tmp_path / "model")
    record = restarted.read_record()

    assert record.source == _served_name(restarted) == "second"
    assert record.version == 2
    next_record = restarted.install(_model(tmp_path, "fourth"), trained=True, source="fourth")
    assert (next_record.version, _served_name(restarted)) == (3, "fourth")
    assert restarted.previous_path.read_bytes() == _model(tmp_path, "second").read_bytes()


def test_a_file_replaced_by_hand_is_not_described_by_an_old_record(tmp_path):
    store = _installed(tmp_path, ["first", "second"])
    store.served_path.write_bytes(b"someone else's model")

    record = ModelStore(tmp_path / "model").read_record()

    assert record.source.endswith("replaced outside ptxseg (not recorded)") and record.weights == "unknown"
    assert record.version == 2


def test_the_same_bytes_restored_from_a_backup_keep_their_record(tmp_path):
    store = _installed(tmp_path, ["first", "second"])
    backup = store.served_path.read_bytes()
    store.served_path.unlink()
    store.served_path.write_bytes(backup)

    assert ModelStore(tmp_path / "model").read_record().source == "second"
