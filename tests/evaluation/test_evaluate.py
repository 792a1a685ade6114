"""``ptxseg evaluate``: both metric conventions by hand on crafted predictions, and end to end on real SIIM DICOMs."""

import csv
import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from ptxseg.cli.main import main
from ptxseg.datasets.labelled import LabelledImage
from ptxseg.evaluation.evaluate import SWEEP_THRESHOLDS, ThresholdSweep, evaluate
from ptxseg.evaluation.metrics import PooledCounts, per_image_dice
from ptxseg.evaluation.report import write_evaluation
from ptxseg.inference.predictor import Predictor
from ptxseg.io.reader import read_cxr
from ptxseg.io.writers import write_png
from ptxseg.model.checkpoint import load_checkpoint
from ptxseg.transforms.intensity import normalize
from ptxseg.transforms.postprocess import ThresholdPostprocess, postprocess_from_dict
from tests.support.small_model import write_small_checkpoint

SIZE = 64
DARK, BRIGHT = 51, 204  # 0.2 and 0.8 after read_cxr's division by 255


class BrightPixelLogits:
    """A fake network that segments exactly the pixels brighter than mid-grey (64 x 64 images fit 1:1)."""

    name = "fake-bright"

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return 10.0 * (batch - normalize(np.float32(0.5)))


def _block(rows: slice, cols: slice) -> np.ndarray:
    mask = np.zeros((SIZE, SIZE), bool)
    mask[rows, cols] = True
    return mask


# (id, bright = predicted block, truth). Hand-computed: A tp 50 fn 50 (Dice 2/3, IoU 1/2); B both empty (1, 1);
# C a 20-pixel false positive (0, 0); D a missed 30-pixel pneumothorax (0, 0).
CRAFTED = {
    "A": (_block(slice(0, 10), slice(0, 5)), _block(slice(0, 10), slice(0, 10))),
    "B": (_block(slice(0, 0), slice(0, 0)), _block(slice(0, 0), slice(0, 0))),
    "C": (_block(slice(20, 22), slice(20, 30)), _block(slice(0, 0), slice(0, 0))),
    "D": (_block(slice(0, 0), slice(0, 0)), _block(slice(40, 43), slice(40, 50))),
}


def _crafted_items(folder, names) -> list[LabelledImage]:
    items = []
    for name in names:
        bright, truth = CRAFTED[name]
        path = write_png(np.where(bright, BRIGHT, DARK).astype(np.uint8), folder / f"{name}.png")
        items.append(LabelledImage(name, path, truth))
    return items


def _read_csv(path) -> list[dict]:
    with open(path, newline="") as stream:
        return list(csv.DictReader(stream))


def test_both_conventions_by_hand_on_crafted_predictions(tmp_path):
    evaluation = evaluate(Predictor(BrightPixelLogits(), SIZE), _crafted_items(tmp_path, "ABCD"), batch_size=3)
    metrics = write_evaluation(tmp_path / "out", evaluation, {"specs": ["crafted"]}, _fake_model_summary())

    assert metrics["n_images"] == 4
    assert metrics["per_image_dice"] == pytest.approx((2 / 3 + 1 + 0 + 0) / 4)
    assert metrics["pooled_counts"] == {"tp": 50, "fp": 20, "fn": 80, "tn": 4 * SIZE * SIZE - 150}
    assert metrics["pooled_dice"] == pytest.approx(100 / 200)
    assert metrics["pooled_iou"] == pytest.approx(50 / 150)
    assert metrics["precision"] == pytest.approx(50 / 70)
    assert metrics["recall"] == pytest.approx(50 / 130)
    assert metrics["pixel_accuracy"] == pytest.approx((4 * SIZE * SIZE - 100) / (4 * SIZE * SIZE))
    # Scores: A and C ~1 (bright pixels), B and D ~0 (tied). Positives A, D; negatives B, C.
    # AUC pairs: (A>B) 1, (A=C) 0.5, (D=B) 0.5, (D<C) 0 -> 0.5; flagged A and C.
    assert (metrics["auc"], metrics["sensitivity"], metrics["specificity"]) == (0.5, 0.5, 0.5)
    assert (metrics["positives"], metrics["negatives"]) == (2, 2)
    assert metrics["postprocess"] == {"kind": "threshold", "threshold": 0.5, "min_area": 0}
    rows = {row["image_id"]: row for row in _read_csv(tmp_path / "out" / "per_image.csv")}
    assert [float(rows[name]["dice"]) for name in "ABCD"] == pytest.approx([2 / 3, 1.0, 0.0, 0.0])
    assert [float(rows[name]["iou"]) for name in "ABCD"] == pytest.approx([0.5, 1.0, 0.0, 0.0])
    assert [(int(rows[n]["truth_area_px"]), int(rows[n]["predicted_area_px"])) for n in "ABCD"] == [
        (100, 50),
        (0, 0),
        (0, 20),
        (30, 0),
    ]
    # Every map is 0 or 1 away from the edges, so every threshold of the sweep sees the same masks.
    sweep = metrics["threshold_sweep"]
    assert sweep["thresholds"] == list(SWEEP_THRESHOLDS) and len(sweep["thresholds"]) == 19
    assert sweep["per_image_dice"] == pytest.approx([5 / 12] * 19)
    assert sweep["pooled_dice"] == pytest.approx([0.5] * 19)
    # Best: pneumothorax images first, highest Dice first; worst: lowest Dice, then most wrong pixels.
    assert [case.image_id for case in evaluation.gallery.best] == ["A", "D", "B", "C"]
    assert [case.image_id for case in evaluation.gallery.worst][:2] == ["D", "C"]


def _fake_model_summary() -> dict:
    return {
        "path": "fake.safetensors",
        "encoder": "efficientnet-b0",
        "image_size": SIZE,
        "encoder_weights": "random",
        "created": "2024-01-01T00:00:00+00:00",
        "ptxseg_version": "test",
        "backend": "fake-bright",
    }


def test_min_area_removes_the_small_false_positive(tmp_path):
    predictor = Predictor(BrightPixelLogits(), SIZE, ThresholdPostprocess(0.5, min_area=25))

    metrics = evaluate(predictor, _crafted_items(tmp_path, "ABCD")).metrics()

    assert metrics["per_image_dice"] == pytest.approx((2 / 3 + 1 + 1 + 0) / 4)  # C's 20 pixels are gone
    assert metrics["pooled_counts"]["fp"] == 0 and metrics["precision"] == 1.0
    assert metrics["postprocess"] == {"kind": "threshold", "threshold": 0.5, "min_area": 25}


def test_auc_and_specificity_are_null_without_negative_images(tmp_path):
    evaluation = evaluate(Predictor(BrightPixelLogits(), SIZE), _crafted_items(tmp_path, "AD"))
    write_evaluation(tmp_path / "out", evaluation, {"specs": ["crafted"]}, _fake_model_summary())

    written = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert written["auc"] is None and written["specificity"] is None
    assert written["sensitivity"] == 0.5 and written["negatives"] == 0
    assert "| n/a (undefined) | 0.5000 | n/a (undefined) |" in (tmp_path / "out" / "report.md").read_text()


def test_an_unreadable_image_is_reported_and_left_out(tmp_path):
    items = _crafted_items(tmp_path, "AB")
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    items.append(LabelledImage("broken", broken, None))

    metrics = evaluate(Predictor(BrightPixelLogits(), SIZE), items).metrics()

    assert metrics["n_images"] == 2
    assert [entry["image_id"] for entry in metrics["skipped"]] == ["broken"]
    assert "broken.png" in metrics["skipped"][0]["error"]


def test_sweep_counts_pixels_strictly_above_each_threshold():
    sweep = ThresholdSweep((0.2, 0.5, 0.7))
    probability = np.array([[0.1, 0.3, 0.5, 0.8]])
    sweep.add(probability, np.array([[False, True, True, True]]))
    sweep.add(np.zeros((1, 4)), np.zeros((1, 4), bool))  # empty and predicted empty: Dice 1 at every threshold

    result = sweep.to_dict()

    # > 0.2: 3 predicted, all true (Dice 1); > 0.5: only 0.8 (0.5 is not above 0.5): 2*1/(1+3) = 0.5;
    # > 0.7: the same single pixel.
    assert result["per_image_dice"] == pytest.approx([(1 + 1) / 2, (0.5 + 1) / 2, (0.5 + 1) / 2])
    assert result["pooled_dice"] == pytest.approx([1.0, 0.5, 0.5])


def test_sweep_refuses_unsorted_thresholds():
    with pytest.raises(ValueError, match="increasing"):
        ThresholdSweep((0.5, 0.3))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return write_small_checkpoint(tmp_path_factory.mktemp("model") / "b0.safetensors")


@pytest.fixture(scope="module")
def siim_evaluation(tmp_path_factory, checkpoint, siim_sample):
    out = tmp_path_factory.mktemp("evaluation")
    spec = f"siim:{siim_sample / 'dicom'},{siim_sample / 'train-rle.csv'}"
    arguments = ["--model", str(checkpoint), "--data", spec, "--out", str(out), "--backend", "torch"]
    options = ["--device", "cpu", "--batch-size", "1", "--threshold", "0.5", "--min-area", "10", "--save-masks"]
    status = main(["evaluate", *arguments, *options])  # batch 1: the same arithmetic as Predictor.predict
    assert status == 0
    return out


def test_evaluate_on_siim_writes_every_file(siim_evaluation, siim_sample):
    for name in ("threshold_sweep.png", "dice_histogram.png", "overlays_best_worst.png"):
        with Image.open(siim_evaluation / name) as picture:
            assert picture.format == "PNG" and min(picture.size) >= 200
    metrics = json.loads((siim_evaluation / "metrics.json").read_text())
    assert metrics["data"]["specs"][0].startswith("siim:") and metrics["data"]["n_evaluated"] == 7
    assert metrics["model"]["encoder"] == "efficientnet-b0" and metrics["model"]["backend"] == "torch-cpu-fp32"
    assert metrics["postprocess"] == {"kind": "threshold", "threshold": 0.5, "min_area": 10}
    report = (siim_evaluation / "report.md").read_text()
    for expected in ("Kaggle/SIIM", "all pixels of the set pooled", '"min_area": 10', "7 images evaluated"):
        assert expected in report
    assert len(list((siim_evaluation / "masks").glob("*.png"))) == 7


def test_siim_metrics_match_a_recomputation_from_the_saved_masks(siim_evaluation, siim_sample):
    metrics = json.loads((siim_evaluation / "metrics.json").read_text())
    rows = _read_csv(siim_evaluation / "per_image.csv")
    pooled, dice = PooledCounts(), []
    for row in rows:
        predicted = np.asarray(Image.open(siim_evaluation / "masks" / f"{row['image_id']}.png")) > 0
        truth = np.asarray(Image.open(siim_sample / "masks" / f"{row['image_id']}.png")) > 0
        assert predicted.shape == truth.shape == (1024, 1024)
        pooled.add(predicted, truth)
        dice.append(per_image_dice(predicted, truth))
        assert float(row["dice"]) == pytest.approx(dice[-1])
        assert (int(row["truth_area_px"]), int(row["predicted_area_px"])) == (truth.sum(), predicted.sum())
    assert min(pooled.tp, pooled.fp, pooled.fn) > 0  # masks neither empty nor perfect: agreement means something
    assert metrics["per_image_dice"] == pytest.approx(np.mean(dice))
    for name, value in (("pooled_dice", pooled.dice), ("pooled_iou", pooled.iou), ("recall", pooled.recall)):
        assert metrics[name] == pytest.approx(value)
    assert metrics["precision"] == pytest.approx(pooled.precision)
    assert metrics["pixel_accuracy"] == pytest.approx(pooled.pixel_accuracy)
    # One negative image: AUC is the share of positives scored above it (ties half).
    scores = {row["image_id"]: float(row["probability"]) for row in rows}
    negative = scores.pop("1.2.276.0.7230010.3.1.4.8323329.6904.1517875201.850819")
    expected_auc = np.mean(
        [1.0 if score > negative else 0.5 if score == negative else 0.0 for score in scores.values()]
    )
    assert metrics["auc"] == pytest.approx(expected_auc)
    assert metrics["sensitivity"] == pytest.approx(np.mean([score >= 0.5 for score in scores.values()]))
    assert metrics["specificity"] == (0.0 if negative >= 0.5 else 1.0)


def test_siim_masks_are_the_predictors_masks_at_full_resolution(siim_evaluation, siim_sample, checkpoint):
    predictor = Predictor.from_checkpoint(checkpoint, "cpu", "torch", ThresholdPostprocess(0.5, min_area=10))
    path = sorted((siim_sample / "dicom").glob("*.dcm"))[0]

    expected = predictor.predict(read_cxr(path)).mask

    saved = np.asarray(Image.open(siim_evaluation / "masks" / f"{path.name[: -len('.dcm')]}.png"))
    assert set(np.unique(saved)) <= {0, 255}
    np.testing.assert_array_equal(saved > 0, expected)


def test_siim_sweep_agrees_with_the_operating_point(siim_evaluation):
    metrics = json.loads((siim_evaluation / "metrics.json").read_text())
    sweep = metrics["threshold_sweep"]
    at_half = sweep["thresholds"].index(0.5)

    # The sweep upsamples probabilities before thresholding and applies no min_area: near, not equal.
    assert sweep["pooled_dice"][at_half] == pytest.approx(metrics["pooled_dice"], abs=0.02)
    assert sweep["per_image_dice"][at_half] == pytest.approx(metrics["per_image_dice"], abs=0.02)


def test_tune_and_explicit_threshold_are_exclusive(checkpoint, tmp_path, capsys):
    arguments = ["--model", str(checkpoint), "--data", "ptx498:x", "--out", str(tmp_path)]

    status = main(["evaluate", *arguments, "--tune", "--threshold", "0.4"])

    assert status == 2
    assert "--tune chooses the post-processing itself" in capsys.readouterr().err


def test_tune_stores_the_best_postprocess_in_the_checkpoint_and_the_predictor_uses_it(
    checkpoint, siim_sample, tmp_path
):
    tuned = tmp_path / "tuned.safetensors"
    shutil.copyfile(checkpoint, tuned)
    spec = f"siim:{siim_sample / 'dicom'},{siim_sample / 'train-rle.csv'}"
    arguments = ["--model", str(tuned), "--data", spec, "--out", str(tmp_path / "out"), "--backend", "torch"]

    assert main(["evaluate", *arguments, "--device", "cpu", "--tune"]) == 0

    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    tuning = metrics["tuning"]
    scores = [candidate["per_image_dice"] for candidate in tuning["candidates"]]
    assert len(scores) == 47 and tuning["per_image_dice"] == max(scores)
    assert tuning["candidates"][scores.index(max(scores))]["postprocess"] == tuning["chosen"]
    assert tuning["candidates"][0]["postprocess"] == {"kind": "threshold", "threshold": 0.5, "min_area": 0}
    assert metrics["postprocess"] == tuning["chosen"]  # the evaluation ran with the chosen post-processing
    state_dict, metadata = load_checkpoint(tuned)
    assert metadata.postprocess == tuning["chosen"]
    original, _ = load_checkpoint(checkpoint)
    assert all(torch.equal(state_dict[key], original[key]) for key in original)
    assert Predictor.from_checkpoint(tuned, "cpu", "torch").postprocess == postprocess_from_dict(tuning["chosen"])
    assert "Tuned on this same set" in (tmp_path / "out" / "report.md").read_text()
