"""``ptxseg predict``: masks at original size named by full image id, geometry, RLE, bad inputs, torchrun sharding."""

import csv
import os
import subprocess
import sys

import numpy as np
import pytest
import SimpleITK as sitk
from PIL import Image

from ptxseg.cli.main import main
from ptxseg.datasets.siim import rle_decode
from ptxseg.inference.predictor import Predictor
from ptxseg.io.reader import read_cxr
from tests.support.small_model import write_small_checkpoint

NEGATIVE_UID = "1.2.276.0.7230010.3.1.4.8323329.6904.1517875201.850819"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return write_small_checkpoint(tmp_path_factory.mktemp("model") / "b0.safetensors")


def _predict(*arguments: str) -> int:
    return main(["predict", "--backend", "torch", "--device", "cpu", *map(str, arguments)])


def _rows(path) -> list[dict]:
    with open(path, newline="") as stream:
        return list(csv.DictReader(stream))


@pytest.fixture(scope="module")
def siim_predictions(tmp_path_factory, checkpoint, siim_sample):
    out = tmp_path_factory.mktemp("predictions")
    arguments = ["--model", checkpoint, "--out", out, "--rle", out / "submission.csv", "--batch-size", "1"]
    assert _predict(*arguments, siim_sample / "dicom") == 0  # batch 1: the same arithmetic as Predictor.predict
    return out


def test_masks_are_named_by_the_full_dotted_id_at_original_size(siim_predictions, siim_sample, checkpoint):
    dicoms = sorted((siim_sample / "dicom").glob("*.dcm"))
    uids = [path.name[: -len(".dcm")] for path in dicoms]

    assert sorted(path.name for path in siim_predictions.glob("*.png")) == sorted(f"{uid}.png" for uid in uids)
    rows = _rows(siim_predictions / "predictions.csv")
    assert list(rows[0]) == ["image_id", "probability", "area_cm2", "side", "flag", "path", "error"]
    assert [row["image_id"] for row in rows] == uids  # input order, ids never truncated at a dot
    expected = Predictor.from_checkpoint(checkpoint, "cpu", "torch").predict(read_cxr(dicoms[0]))
    saved = np.asarray(Image.open(siim_predictions / f"{uids[0]}.png"))
    assert saved.shape == (1024, 1024) and set(np.unique(saved)) == {0, 255}
    np.testing.assert_array_equal(saved > 0, expected.mask)
    assert rows[0]["probability"] == f"{expected.probability:.4f}" and rows[0]["side"] == expected.side
    assert float(rows[0]["area_cm2"]) == expected.area_cm2 and rows[0]["flag"] == str(expected.flag).lower()
    assert all(row["error"] == "" for row in rows)


def test_rle_file_round_trips_to_the_png_masks(siim_predictions):
    rows = _rows(siim_predictions / "submission.csv")

    assert (siim_predictions / "submission.csv").read_text().splitlines()[0] == "ImageId,EncodedPixels"
    assert len(rows) == 7
    for row in rows:
        mask = np.asarray(Image.open(siim_predictions / f"{row['ImageId']}.png")) > 0
        np.testing.assert_array_equal(rle_decode(row["EncodedPixels"], 1024, 1024), mask)
        assert (row["EncodedPixels"] == "-1") == (not mask.any())
    assert sum(row["EncodedPixels"] != "-1" for row in rows) >= 5  # the masks have content


def test_nrrd_masks_lie_on_the_dicom_grid(siim_predictions, siim_sample, checkpoint, tmp_path):
    dicom = siim_sample / "dicom" / f"{NEGATIVE_UID}.dcm"

    assert _predict("--model", checkpoint, "--out", tmp_path, "--format", "nrrd", dicom) == 0

    label, image = sitk.ReadImage(str(tmp_path / f"{NEGATIVE_UID}.nrrd")), sitk.ReadImage(str(dicom))
    assert label.GetSize() == image.GetSize() == (1024, 1024, 1)
    assert label.GetOrigin() == pytest.approx(image.GetOrigin())
    assert label.GetSpacing() == pytest.approx(image.GetSpacing())
    assert label.GetDirection() == pytest.approx(image.GetDirection())
    png = np.asarray(Image.open(siim_predictions / f"{NEGATIVE_UID}.png")) > 0
    np.testing.assert_array_equal(sitk.GetArrayFromImage(label)[0] > 0, png)


def test_an_unreadable_file_is_a_csv_row_not_the_end(checkpoint, tmp_path, capsys):
    images = tmp_path / "images"
    assert main(["phantoms", "--out", str(tmp_path / "phantoms"), "--n", "1", "--size", "64"]) == 0
    images.mkdir()
    (tmp_path / "phantoms" / "images" / "phantom-0000.png").rename(images / "good.png")
    (images / "nested").mkdir()
    (images / "nested" / "broken.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"garbage")

    assert _predict("--model", checkpoint, "--out", tmp_path / "out", images) == 0

    rows = {row["image_id"]: row for row in _rows(tmp_path / "out" / "predictions.csv")}
    assert rows["good"]["error"] == "" and rows["good"]["probability"] != ""
    assert "broken.dcm" in rows["broken"]["error"] and rows["broken"]["probability"] == ""
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["good.png", "predictions.csv"]
    assert "skipped" in capsys.readouterr().out


def test_the_output_folder_inside_an_input_folder_is_not_read_back(checkpoint, tmp_path):
    assert main(["phantoms", "--out", str(tmp_path), "--n", "2", "--size", "64"]) == 0
    images, out = tmp_path / "images", tmp_path / "images" / "predicted"

    for _ in range(2):
        assert _predict("--model", checkpoint, "--out", out, images) == 0

    assert [row["image_id"] for row in _rows(out / "predictions.csv")] == ["phantom-0000", "phantom-0001"]


def test_two_inputs_with_one_id_are_refused(checkpoint, tmp_path, capsys):
    assert main(["phantoms", "--out", str(tmp_path), "--n", "1", "--size", "64"]) == 0

    status = _predict("--model", checkpoint, "--out", tmp_path / "out", tmp_path / "images", tmp_path / "masks")

    assert status == 2
    assert "would both write the mask phantom-0000" in capsys.readouterr().err


@pytest.mark.slow
def test_torchrun_with_two_processes_writes_what_one_process_writes(checkpoint, tmp_path):
    assert main(["phantoms", "--out", str(tmp_path / "phantoms"), "--n", "5", "--size", "64", "--format", "dicom"]) == 0
    inputs = sorted(str(path) for path in (tmp_path / "phantoms").glob("*.dcm"))
    options = ["--model", str(checkpoint), "--backend", "torch", "--device", "cpu", "--batch-size", "1"]
    single, sharded = tmp_path / "single", tmp_path / "sharded"
    torchrun = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    one_thread = {**os.environ, "OMP_NUM_THREADS": "1"}  # the same arithmetic in every process

    for out, launcher in ((single, []), (sharded, torchrun)):
        command = [sys.executable, *launcher, "-m", "ptxseg", "predict", *options, "--out", str(out)]
        completed = subprocess.run(
            [*command, "--rle", str(out / "rle.csv"), *inputs], capture_output=True, text=True, env=one_thread
        )
        assert completed.returncode == 0, completed.stderr[-3000:]

    assert "on 2 process(es)" in completed.stdout
    assert len(_rows(single / "predictions.csv")) == 5
    assert (sharded / "predictions.csv").read_text() == (single / "predictions.csv").read_text()
    assert (sharded / "rle.csv").read_text() == (single / "rle.csv").read_text()
    assert sorted(path.name for path in sharded.iterdir()) == sorted(path.name for path in single.iterdir())
    for mask in single.glob("*.png"):
        np.testing.assert_array_equal(np.asarray(Image.open(mask)), np.asarray(Image.open(sharded / mask.name)))
