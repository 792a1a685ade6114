"""Metrics on crafted 4x4 masks whose counts are listed in the comments."""

import numpy as np
import pytest

from ptxseg.evaluation.metrics import PooledCounts, image_level_metrics, mean_per_image_dice, per_image_dice

# truth: 4 pixels (top-left 2x2); pred: 6 pixels (rows 0-1, cols 1-3).
# tp = (0,1),(1,1) = 2; fp = (0,2),(0,3),(1,2),(1,3) = 4; fn = (0,0),(1,0) = 2; tn = 16 - 8 = 8.
TRUTH = np.zeros((4, 4), bool)
TRUTH[:2, :2] = True
PRED = np.zeros((4, 4), bool)
PRED[:2, 1:] = True
EMPTY = np.zeros((4, 4), bool)


def test_per_image_dice_hand_values():
    assert per_image_dice(PRED, TRUTH) == pytest.approx(2 * 2 / (6 + 4))  # 0.4
    assert per_image_dice(TRUTH, TRUTH) == 1.0
    assert per_image_dice(EMPTY, EMPTY) == 1.0  # Kaggle/SIIM: both empty is a perfect answer
    assert per_image_dice(PRED, EMPTY) == 0.0
    assert per_image_dice(EMPTY, TRUTH) == 0.0


def test_per_image_dice_rejects_shape_mismatch():
    with pytest.raises(ValueError, match="resample"):
        per_image_dice(np.zeros((4, 4)), np.zeros((4, 5)))


def test_mean_per_image_dice_averages_images_not_pixels():
    # Images: (PRED, TRUTH) 0.4, (EMPTY, EMPTY) 1.0, (PRED, EMPTY) 0.0 -> mean 1.4 / 3.
    assert mean_per_image_dice([PRED, EMPTY, PRED], [TRUTH, EMPTY, EMPTY]) == pytest.approx(1.4 / 3)


def test_mean_per_image_dice_rejects_unpaired_or_empty_input():
    with pytest.raises(ValueError, match="pair"):
        mean_per_image_dice([PRED], [TRUTH, TRUTH])
    with pytest.raises(ValueError, match="zero images"):
        mean_per_image_dice([], [])


def test_pooled_counts_hand_values():
    counts = PooledCounts()
    counts.add(PRED, TRUTH)
    assert (counts.tp, counts.fp, counts.fn, counts.tn) == (2, 4, 2, 8)
    assert counts.dice == pytest.approx(4 / 10)
    assert counts.iou == pytest.approx(2 / 8)
    assert counts.precision == pytest.approx(2 / 6)
    assert counts.recall == pytest.approx(2 / 4)
    assert counts.pixel_accuracy == pytest.approx(10 / 16)


def test_pooled_dice_differs_from_mean_per_image_dice():
    # Adding an image where both masks are empty: per-image mean goes (0.4 + 1) / 2 = 0.7, pooled stays 0.4
    # (only tn grows: 8 + 16 = 24) -- the two conventions must never be mixed.
    counts = PooledCounts()
    counts.add(PRED, TRUTH)
    counts.add(EMPTY, EMPTY)
    assert counts.dice == pytest.approx(0.4)
    assert counts.tn == 24
    assert counts.pixel_accuracy == pytest.approx(26 / 32)
    assert mean_per_image_dice([PRED, EMPTY], [TRUTH, EMPTY]) == pytest.approx(0.7)


def test_pooled_counts_merge_and_array_round_trip_like_ddp():
    rank0, rank1 = PooledCounts(), PooledCounts()
    rank0.add(PRED, TRUTH)
    rank1.add(TRUTH, TRUTH)  # tp 4, tn 12
    summed = rank0.as_array() + rank1.as_array()
    assert summed.tolist() == [6, 4, 2, 20]
    total = PooledCounts.from_array(summed)
    assert total == rank0.merge(rank1)
    assert total.dice == pytest.approx(12 / 18)
    with pytest.raises(ValueError, match="4 counts"):
        PooledCounts.from_array(np.zeros(3))


def test_pooled_metrics_undefined_are_none():
    counts = PooledCounts()
    assert counts.pixel_accuracy is None
    counts.add(EMPTY, EMPTY)
    # No foreground anywhere: Dice, IoU, precision, recall are 0/0.
    assert counts.to_dict() == {
        "tp": 0,
        "fp": 0,
        "fn": 0,
        "tn": 16,
        "dice": None,
        "iou": None,
        "precision": None,
        "recall": None,
        "pixel_accuracy": 1.0,
    }
    counts.add(EMPTY, TRUTH)  # truth but no prediction: recall 0, precision still undefined
    assert counts.recall == 0.0
    assert counts.precision is None
    assert counts.dice == 0.0


def test_image_level_metrics_hand_values():
    # Pairs (positive, negative) ordered correctly: (0.35 > 0.1), (0.8 > 0.1), (0.8 > 0.4); wrong: (0.35 < 0.4).
    # AUC = 3 / 4. At threshold 0.5 only 0.8 is called: sensitivity 1/2, specificity 2/2.
    result = image_level_metrics([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1], threshold=0.5)
    assert result["auc"] == pytest.approx(0.75)
    assert result["sensitivity"] == pytest.approx(0.5)
    assert result["specificity"] == pytest.approx(1.0)
    assert (result["positives"], result["negatives"], result["threshold"]) == (2, 2, 0.5)


def test_image_level_auc_counts_ties_as_half():
    # Positive 0.5 vs negatives 0.5 (tie, 1/2) and 0.2 (win, 1): AUC = 1.5 / 2.
    assert image_level_metrics([0.5, 0.5, 0.2], [1, 0, 0], threshold=0.5)["auc"] == pytest.approx(0.75)
    # Threshold is inclusive: the 0.5 negative is called positive -> specificity 1/2.
    assert image_level_metrics([0.5, 0.5, 0.2], [1, 0, 0], threshold=0.5)["specificity"] == pytest.approx(0.5)


def test_image_level_metrics_with_one_class_are_none():
    result = image_level_metrics([0.2, 0.9], [0, 0], threshold=0.5)
    assert result["auc"] is None
    assert result["sensitivity"] is None
    assert result["specificity"] == pytest.approx(0.5)


def test_image_level_metrics_rejects_unpaired_input():
    with pytest.raises(ValueError, match="one score per label"):
        image_level_metrics([0.1, 0.2], [1], threshold=0.5)
