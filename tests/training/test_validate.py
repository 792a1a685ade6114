"""Validation sums, their exact merge across shards, and the metrics both conventions derive from them."""

import numpy as np
import pytest
import torch

from ptxseg.compute.distributed import reduce_validation, shard_indices, world_size
from ptxseg.datasets.labelled import CachedFittedDataset, FittedSample
from ptxseg.evaluation.metrics import PooledCounts
from ptxseg.training.validate import ValidationResult, validate

# Three 2 x 2 images, (prediction, truth): Dice 0.5 (tp 1, fp 1, fn 1, tn 1), both empty (Dice 1.0, tn 4),
# a false positive on an empty image (Dice 0.0, fp 1, tn 3). Pooled: tp 1, fp 2, fn 1, tn 8.
PARTLY_RIGHT = (np.array([[1, 1], [0, 0]], bool), np.array([[1, 0], [1, 0]], bool))
BOTH_EMPTY = (np.zeros((2, 2), bool), np.zeros((2, 2), bool))
FALSE_POSITIVE = (np.array([[1, 0], [0, 0]], bool), np.zeros((2, 2), bool))


def _result(*pairs) -> ValidationResult:
    result = ValidationResult()
    for pred, truth in pairs:
        result.add(pred, truth)
    return result


def test_sums_and_metrics_by_hand():
    result = _result(PARTLY_RIGHT, BOTH_EMPTY, FALSE_POSITIVE)

    assert result.dice_sum == 1.5 and result.n_images == 3
    assert result.pooled == PooledCounts(tp=1, fp=2, fn=1, tn=8)
    assert result.as_dict() == {
        "n_images": 3,
        "per_image_dice": pytest.approx(0.5),  # (0.5 + 1.0 + 0.0) / 3
        "pooled_dice": pytest.approx(0.4),  # 2 * 1 / (2 * 1 + 2 + 1)
        "pooled_iou": pytest.approx(0.25),  # 1 / (1 + 2 + 1)
        "precision": pytest.approx(1 / 3),
        "recall": pytest.approx(0.5),
        "pixel_accuracy": pytest.approx(0.75),  # (1 + 8) / 12
    }


def test_shards_merge_exactly_through_to_array():
    first = _result(PARTLY_RIGHT)
    second = _result(BOTH_EMPTY, FALSE_POSITIVE)

    merged = ValidationResult.from_array(first.to_array() + second.to_array())

    np.testing.assert_array_equal(first.to_array(), [0.5, 1, 1, 1, 1, 1])
    assert merged.to_array().dtype == np.float64
    assert merged == _result(PARTLY_RIGHT, BOTH_EMPTY, FALSE_POSITIVE)
    assert isinstance(merged.n_images, int) and isinstance(merged.pooled.tp, int)


def test_single_process_reduction_changes_nothing():
    result = _result(PARTLY_RIGHT, FALSE_POSITIVE)

    assert world_size() == 1 and shard_indices(4) == [0, 1, 2, 3]
    assert reduce_validation(result) == result


def test_undefined_pooled_ratios_are_none():
    only_empty = _result(BOTH_EMPTY, BOTH_EMPTY).as_dict()
    nothing = ValidationResult().as_dict()

    assert only_empty == {
        "n_images": 2,
        "per_image_dice": 1.0,  # the SIIM rule: empty prediction on an empty image is perfect
        "pooled_dice": None,
        "pooled_iou": None,
        "precision": None,
        "recall": None,
        "pixel_accuracy": 1.0,
    }
    assert nothing["n_images"] == 0
    assert nothing["per_image_dice"] is None and nothing["pixel_accuracy"] is None


class _BrightIsPneumothorax(torch.nn.Module):
    """Logits > 0 exactly where the normalised input is above the mean grey (0.449), i.e. for white pixels."""

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(20.0))

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return self.scale * batch


def _sample(image_block, label_block) -> FittedSample:
    image = np.zeros((8, 8), np.uint8)
    image[image_block] = 255
    label = np.zeros((8, 8), bool)
    label[label_block] = True
    return FittedSample("sample", image, label)


def test_validate_scores_eval_mode_predictions_over_partial_batches():
    block = (slice(2, 4), slice(2, 6))  # 8 pixels
    samples = [
        _sample(block, block),  # perfect: Dice 1, tp 8, tn 56
        _sample(block, (slice(0, 0), slice(0, 0))),  # false positive on an empty image: Dice 0, fp 8, tn 56
        _sample((slice(0, 0), slice(0, 0)), block),  # missed: Dice 0, fn 8, tn 56
    ]
    model = _BrightIsPneumothorax().train()

    result = validate(model, CachedFittedDataset.from_samples(samples), "cpu", threshold=0.5, batch_size=2)

    assert not model.training  # judged in eval mode
    assert result.n_images == 3 and result.dice_sum == pytest.approx(1.0)
    assert result.pooled == PooledCounts(tp=8, fp=8, fn=8, tn=168)
    assert result.as_dict()["pooled_dice"] == pytest.approx(0.5)  # 16 / (16 + 8 + 8)
