"""Segmentation and image-level metrics, in the two conventions the project reports side by side, never mixed.

* Kaggle/SIIM: Dice per image (1.0 when prediction and truth are both empty), averaged over images.
* Pooled (the paper's): true/false positive/negative pixels summed over the whole set, then Dice (= F1), IoU,
  precision, recall and pixel accuracy. A pooled ratio whose denominator is zero is undefined and returned as
  ``None`` (JSON ``null``), never as a made-up 0 or 1.

Image-level: AUC, sensitivity and specificity of the pneumothorax score.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

__all__ = ["per_image_dice", "mean_per_image_dice", "PooledCounts", "image_level_metrics"]


def _as_mask_pair(pred: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred, truth = np.asarray(pred, dtype=bool), np.asarray(truth, dtype=bool)
    if pred.shape != truth.shape:
        raise ValueError(f"prediction shape {pred.shape} differs from truth shape {truth.shape}; resample first")
    return pred, truth


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def per_image_dice(pred: np.ndarray, truth: np.ndarray) -> float:
    """Dice of one image, Kaggle/SIIM style: 1.0 when both masks are empty, 0.0 when exactly one is.

    Example:
        >>> per_image_dice(np.array([1, 1, 0, 0]), np.array([1, 0, 0, 0]))
        0.6666666666666666
    """
    pred, truth = _as_mask_pair(pred, truth)
    total = int(pred.sum()) + int(truth.sum())
    if total == 0:
        return 1.0
    return 2.0 * int(np.logical_and(pred, truth).sum()) / total


def mean_per_image_dice(preds: Iterable[np.ndarray], truths: Iterable[np.ndarray]) -> float:
    """Mean of :func:`per_image_dice` over paired images (the SIIM-ACR leaderboard metric).

    Example:
        >>> mean_per_image_dice([np.zeros(4), np.ones(4)], [np.zeros(4), np.zeros(4)])
        0.5
    """
    preds, truths = list(preds), list(truths)
    if len(preds) != len(truths):
        raise ValueError(f"got {len(preds)} predictions for {len(truths)} ground-truth masks; pair them one to one")
    if not preds:
        raise ValueError("mean Dice over zero images is undefined; pass at least one image")
    return float(np.mean([per_image_dice(pred, truth) for pred, truth in zip(preds, truths, strict=True)]))


@dataclass
class PooledCounts:
    """Pixel counts pooled over many images, and the paper's metrics computed from them.

    Counts add up, so each DDP rank accumulates its shard and the ranks sum :meth:`as_array` (e.g. with
    ``torch.distributed.all_reduce``) before :meth:`from_array` turns the total back into metrics.

    Example:
        >>> counts = PooledCounts()
        >>> counts.add(np.array([1, 1, 0, 0]), np.array([1, 0, 1, 0]))
        >>> counts.dice, counts.iou, counts.pixel_accuracy
        (0.5, 0.3333333333333333, 0.5)
    """

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, pred: np.ndarray, truth: np.ndarray) -> None:
        """Count the pixels of one more image (or batch) of boolean masks."""
        pred, truth = _as_mask_pair(pred, truth)
        self.tp += int(np.count_nonzero(pred & truth))
        self.fp += int(np.count_nonzero(pred & ~truth))
        self.fn += int(np.count_nonzero(~pred & truth))
        self.tn += int(np.count_nonzero(~pred & ~truth))

    def merge(self, other: PooledCounts) -> PooledCounts:
        """Return the counts of both sets together."""
        return PooledCounts.from_array(self.as_array() + other.as_array())

    def as_array(self) -> np.ndarray:
        """``[tp, fp, fn, tn]`` as int64, the form to sum across processes."""
        return np.array([self.tp, self.fp, self.fn, self.tn], dtype=np.int64)

    @classmethod
    def from_array(cls, counts: np.ndarray) -> PooledCounts:
        """Inverse of :meth:`as_array`."""
        values = np.asarray(counts).ravel()
        if values.size != 4:
            raise ValueError(f"expected the 4 counts [tp, fp, fn, tn], got {values.size} values")
        tp, fp, fn, tn = (int(value) for value in values)
        return cls(tp=tp, fp=fp, fn=fn, tn=tn)

    @property
    def dice(self) -> float | None:
        """2TP / (2TP + FP + FN), i.e. F1; None when neither prediction nor truth has a foreground pixel."""
        return _ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn)

    @property
    def iou(self) -> float | None:
        """TP / (TP + FP + FN); None when neither prediction nor truth has a foreground pixel."""
        return _ratio(self.tp, self.tp + self.fp + self.fn)

    @property
    def precision(self) -> float | None:
        """TP / (TP + FP); None when nothing was predicted."""
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float | None:
        """TP / (TP + FN); None when the truth is empty."""
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def pixel_accuracy(self) -> float | None:
        """(TP + TN) / all pixels; None before any pixel was counted."""
        return _ratio(self.tp + self.tn, self.tp + self.fp + self.fn + self.tn)

    def to_dict(self) -> dict:
        """Counts and metrics, JSON-ready (undefined metrics are None)."""
        names = ("dice", "iou", "precision", "recall", "pixel_accuracy")
        counts = {"tp": self.tp, "fp": self.fp, "fn": self.fn, "tn": self.tn}
        return counts | {name: getattr(self, name) for name in names}


def image_level_metrics(scores: Iterable[float], labels: Iterable[bool], threshold: float) -> dict:
    """AUC, sensitivity and specificity of image scores against image labels (pneumothorax present or not).

    An image is called positive when its score is >= ``threshold``. AUC is the Mann-Whitney statistic with tied
    scores counted as half (mid-ranks). A metric that needs a class absent from ``labels`` is None.

    Example:
        >>> image_level_metrics([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1], threshold=0.5)["auc"]
        0.75
    """
    scores = np.asarray(list(scores), dtype=np.float64)
    labels = np.asarray(list(labels), dtype=bool)
    if scores.shape != labels.shape or scores.ndim != 1:
        raise ValueError(f"need one score per label, got {scores.size} scores and {labels.size} labels")
    positives, negatives = int(labels.sum()), int((~labels).sum())
    called = scores >= threshold
    auc = None
    if positives and negatives:
        positive_rank_sum = rankdata(scores)[labels].sum()
        auc = float((positive_rank_sum - positives * (positives + 1) / 2) / (positives * negatives))
    return {
        "auc": auc,
        "sensitivity": _ratio(int((called & labels).sum()), positives),
        "specificity": _ratio(int((~called & ~labels).sum()), negatives),
        "threshold": threshold,
        "positives": positives,
        "negatives": negatives,
    }
