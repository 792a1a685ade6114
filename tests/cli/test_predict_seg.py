"""``ptxseg predict --format seg``: one valid SEG per DICOM input, referencing it, recording the model and its
(missing) triage qualification; a non-DICOM input is an error row, not the end of the run."""

import csv

import numpy as np
import pydicom

from ptxseg.cli.main import main
from ptxseg.io.seg import read_seg
from ptxseg.io.writers import write_png
from ptxseg.model.identity import checkpoint_digest
from tests.support.dciodvfy import dciodvfy_errors
from tests.support.small_model import write_small_checkpoint

UID = "1.2.276.0.7230010.3.1.4.8323329.6904.1517875201.850819"


def test_predict_writes_a_valid_seg_per_dicom(tmp_path, siim_sample, capsys):
    checkpoint = write_small_checkpoint(tmp_path / "b0.safetensors")
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / f"{UID}.dcm").symlink_to(siim_sample / "dicom" / f"{UID}.dcm")
    write_png(np.zeros((32, 32), np.uint8), inputs / "export.png")

    out = tmp_path / "out"
    arguments = ["predict", "--backend", "torch", "--device", "cpu", "--model", checkpoint, "--out", out]
    assert main([*map(str, arguments), "--format", "seg", str(inputs)]) == 0

    assert sorted(path.name for path in out.iterdir()) == [f"{UID}.seg.dcm", "predictions.csv"]
    assert dciodvfy_errors(out / f"{UID}.seg.dcm") == []
    content = read_seg(out / f"{UID}.seg.dcm")
    assert content.referenced_sop_instance_uid == UID
    assert content.mask.shape == pydicom.dcmread(siim_sample / "dicom" / f"{UID}.dcm").pixel_array.shape
    assert content.model_version == checkpoint_digest(checkpoint)
    assert not content.qualified and not content.flag  # the small model was never qualified for triage
    with open(out / "predictions.csv", newline="") as stream:
        rows = {row["image_id"]: row for row in csv.DictReader(stream)}
    assert "needs DICOM inputs" in rows["export"]["error"]
    assert float(rows[UID]["probability"]) == content.probability
    assert "not qualified for triage" in capsys.readouterr().out
