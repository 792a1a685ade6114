"""The ONNX export is cached per checkpoint content and redone when its stamp is missing."""

import os

from ptxseg.model import onnx as onnx_export
from ptxseg.model.onnx import cached_onnx_export
from tests.support.export_recorder import ExportRecorder

SIZE = 64


def test_cached_onnx_export_reuses_the_file_until_the_checkpoint_changes(tmp_path, monkeypatch):
    recorder = ExportRecorder()
    monkeypatch.setattr(onnx_export, "export_onnx", recorder)
    checkpoint = tmp_path / "model.safetensors"
    checkpoint.write_bytes(b"weights version 1")

    first = cached_onnx_export(None, SIZE, checkpoint)
    os.utime(first, (1_000_000, 1_000_000))  # an old mtime shows whether the file is written again
    again = cached_onnx_export(None, SIZE, checkpoint)

    assert first == again == tmp_path / "model.safetensors.64.onnx"
    assert recorder.calls == 1 and first.stat().st_mtime == 1_000_000
    stamp = tmp_path / "model.safetensors.64.onnx.sha256"
    assert len(stamp.read_text()) == 64

    checkpoint.write_bytes(b"weights version 2")  # same size and name, new content
    changed = cached_onnx_export(None, SIZE, checkpoint)

    assert recorder.calls == 2 and changed.read_bytes() == b"export 2 at 64"
    assert changed.stat().st_mtime > 1_000_000

    other_size = cached_onnx_export(None, 32, checkpoint)
    assert other_size.name == "model.safetensors.32.onnx" and recorder.calls == 3


def test_cached_onnx_export_redoes_an_export_whose_stamp_is_missing(tmp_path, monkeypatch):
    recorder = ExportRecorder()
    monkeypatch.setattr(onnx_export, "export_onnx", recorder)
    checkpoint = tmp_path / "model.pt"
    checkpoint.write_bytes(b"weights")
    cached_onnx_export(None, SIZE, checkpoint)
    (tmp_path / "model.pt.64.onnx.sha256").unlink()  # e.g. a crash between the export and the stamp

    cached_onnx_export(None, SIZE, checkpoint)

    assert recorder.calls == 2
