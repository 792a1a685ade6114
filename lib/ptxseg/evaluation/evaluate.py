"""Evaluate a model on labelled images through the Predictor, both metric conventions, at the original resolution.

Every image takes exactly the app's data path (read -> fit -> forward -> post-process -> undo the fit), so the numbers
describe the masks an annotator would see. Memory stays flat over 12,000 images: per image only its scores are kept,
plus a few thumbnails for the best/worst montage and, for the threshold sweep, pixel counts per threshold.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ptxseg.datasets.labelled import LabelledImage
from ptxseg.evaluation.metrics import PooledCounts, image_level_metrics, per_image_dice
from ptxseg.evaluation.plots import CaseGallery
from ptxseg.image import CXRImage
from ptxseg.inference.predictor import Prediction, Predictor
from ptxseg.io.masks import write_mask
from ptxseg.io.reader import read_cxr
from ptxseg.transforms.fit import undo_fit

__all__ = [
    "SWEEP_THRESHOLDS",
    "LabelledCase",
    "ImageResult",
    "ThresholdSweep",
    "Evaluation",
    "read_labelled_batches",
    "evaluate",
]

LOGGER = logging.getLogger(__name__)
SWEEP_THRESHOLDS = tuple(round(0.05 * step, 2) for step in range(1, 20))
_PROGRESS_REPORTS = 20


@dataclass(frozen=True)
class LabelledCase:
    """A labelled image read from disk: the image and its boolean ground truth on the image's grid."""

    item: LabelledImage
    image: CXRImage
    truth: np.ndarray


def read_labelled_batches(
    items: Sequence[LabelledImage], batch_size: int, skipped: list[dict]
) -> Iterator[list[LabelledCase]]:
    """Read labelled images in batches; an unreadable image or mask is logged, appended to ``skipped`` and left out.

    One corrupt file must not end a run over thousands, but it must not vanish silently either: the caller reports
    ``skipped`` (``{"image_id", "error"}`` entries) next to its numbers.

    Example:
        >>> skipped = []
        >>> batches = list(read_labelled_batches(load_data_specs(["ptx498:PTX-498"]), 4, skipped))  # doctest: +SKIP
    """
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {batch_size}")
    batch: list[LabelledCase] = []
    for item in items:
        try:
            image = read_cxr(item.image_path)
            truth = item.load_mask(image.shape)
        except (ValueError, OSError) as error:  # CXRReadError is a ValueError, as is a mask that misfits its image
            LOGGER.warning("skipping %s: %s", item.image_id, error)
            skipped.append({"image_id": item.image_id, "error": str(error)})
            continue
        batch.append(LabelledCase(item, image, truth))
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


@dataclass(frozen=True)
class ImageResult:
    """One image's scores. ``dice`` and ``iou`` follow the SIIM rule: 1.0 when prediction and truth are both empty."""

    image_id: str
    dice: float
    iou: float
    truth_area_px: int
    predicted_area_px: int
    probability: float
    flag: bool


class ThresholdSweep:
    """Both Dice conventions at many thresholds, accumulated image by image without keeping any probability map.

    Per image and threshold only the predicted and true-positive pixel counts matter. A pixel is foreground when
    its probability is strictly above the threshold (as in
    :class:`ptxseg.transforms.postprocess.ThresholdPostprocess`); no
    minimum area is applied.

    Example:
        >>> sweep = ThresholdSweep((0.25, 0.75))
        >>> sweep.add(np.array([[0.5, 0.9]]), np.array([[False, True]]))
        >>> sweep.to_dict()["per_image_dice"]
        [0.6666666666666666, 1.0]
    """

    def __init__(self, thresholds: Sequence[float] = SWEEP_THRESHOLDS):
        self.thresholds = np.asarray(thresholds, dtype=np.float64)
        if self.thresholds.ndim != 1 or not self.thresholds.size or np.any(np.diff(self.thresholds) <= 0):
            raise ValueError(f"sweep thresholds must be a non-empty increasing sequence, got {list(thresholds)}")
        self.n_images = 0
        self.dice_sums = np.zeros(self.thresholds.size)
        self.pooled = np.zeros((3, self.thresholds.size), dtype=np.int64)  # true positives, predicted, true

    def _above_counts(self, probabilities: np.ndarray) -> np.ndarray:
        """How many of ``probabilities`` lie strictly above each threshold (compared as ThresholdPostprocess does)."""
        return np.array([np.count_nonzero(probabilities > threshold) for threshold in self.thresholds.tolist()])

    def add(self, probability: np.ndarray, truth: np.ndarray) -> None:
        """Count one image: probabilities and boolean truth on the same grid."""
        probability, truth = np.asarray(probability), np.asarray(truth, dtype=bool)
        if probability.shape != truth.shape:
            raise ValueError(f"probability shape {probability.shape} differs from truth shape {truth.shape}")
        true_positive = self._above_counts(probability[truth])
        predicted = self._above_counts(probability)
        true_area = np.full(self.thresholds.size, np.count_nonzero(truth))
        denominator = predicted + true_area
        both_empty = denominator == 0
        self.dice_sums += np.where(both_empty, 1.0, 2.0 * true_positive / np.maximum(denominator, 1))
        self.pooled += np.stack([true_positive, predicted, true_area])
        self.n_images += 1

    def to_dict(self) -> dict:
        """Thresholds with the mean per-image Dice (SIIM) and the pooled Dice at each; None before any image."""
        true_positive, predicted, true_area = self.pooled
        denominator = predicted + true_area
        pooled = [2.0 * tp / total if total else None for tp, total in zip(true_positive, denominator, strict=True)]
        per_image = (self.dice_sums / self.n_images).tolist() if self.n_images else [None] * self.thresholds.size
        return {
            "thresholds": self.thresholds.tolist(),
            "per_image_dice": per_image,
            "pooled_dice": pooled,
            "method": "probability maps brought back to the original grid (bilinear), then foreground = "
            "probability > threshold; no minimum area",
        }


@dataclass
class Evaluation:
    """Everything one evaluation run measured; :meth:`metrics` turns it into the JSON-ready numbers."""

    postprocess: dict
    triage_threshold: float
    images: list[ImageResult] = field(default_factory=list)
    pooled: PooledCounts = field(default_factory=PooledCounts)
    sweep: ThresholdSweep = field(default_factory=ThresholdSweep)
    gallery: CaseGallery = field(default_factory=CaseGallery)
    skipped: list[dict] = field(default_factory=list)

    def add(self, case: LabelledCase, prediction: Prediction) -> ImageResult:
        """Score one image's prediction against its truth, in every convention."""
        counts = PooledCounts()
        counts.add(prediction.mask, case.truth)
        result = ImageResult(
            image_id=case.item.image_id,
            dice=per_image_dice(prediction.mask, case.truth),
            iou=1.0 if counts.iou is None else counts.iou,  # both empty: right, as in the SIIM Dice
            truth_area_px=counts.tp + counts.fn,
            predicted_area_px=counts.tp + counts.fp,
            probability=prediction.probability,
            flag=prediction.flag,
        )
        self.images.append(result)
        self.pooled = self.pooled.merge(counts)
        self.sweep.add(undo_fit(prediction.probability_map, prediction.fit), case.truth)
        self.gallery.add(
            result.image_id, result.dice, counts.fp + counts.fn, case.image.pixels, case.truth, prediction.mask
        )
        return result

    def metrics(self) -> dict:
        """Both conventions, image-level triage metrics and the sweep; an undefined ratio is None.

        Example:
            >>> evaluate(predictor, items).metrics()["per_image_dice"]  # doctest: +SKIP
            0.8241
        """
        image_level = image_level_metrics(
            [result.probability for result in self.images],
            [result.truth_area_px > 0 for result in self.images],
            self.triage_threshold,
        )
        return {
            "n_images": len(self.images),
            "per_image_dice": float(np.mean([result.dice for result in self.images])) if self.images else None,
            "pooled_dice": self.pooled.dice,
            "pooled_iou": self.pooled.iou,
            "precision": self.pooled.precision,
            "recall": self.pooled.recall,
            "pixel_accuracy": self.pooled.pixel_accuracy,
            "auc": image_level["auc"],
            "sensitivity": image_level["sensitivity"],
            "specificity": image_level["specificity"],
            "triage_threshold": self.triage_threshold,
            "positives": image_level["positives"],
            "negatives": image_level["negatives"],
            "pooled_counts": {"tp": self.pooled.tp, "fp": self.pooled.fp, "fn": self.pooled.fn, "tn": self.pooled.tn},
            "postprocess": self.postprocess,
            "threshold_sweep": self.sweep.to_dict(),
            "skipped": self.skipped,
        }


def evaluate(
    predictor: Predictor,
    items: Sequence[LabelledImage],
    batch_size: int = 4,
    save_masks: Path | None = None,
) -> Evaluation:
    """Predict every labelled image with ``predictor`` and score the full-resolution masks against the truth.

    Args:
        predictor: the loaded model with its post-processing and triage threshold (both are reported).
        items: labelled images, e.g. from :func:`ptxseg.datasets.specs.load_data_specs`.
        batch_size: images per forward pass.
        save_masks: a folder to also write each predicted mask to as ``<image id>.png`` (0/255), or None.

    Returns:
        The evaluation; unreadable images are listed in ``skipped``, not scored.

    Raises:
        ValueError: no image could be read.

    Example:
        >>> predictor = Predictor.from_checkpoint("best.safetensors")  # doctest: +SKIP
        >>> evaluate(predictor, load_data_specs(["ptx498:PTX-498"])).metrics()["pooled_dice"]  # doctest: +SKIP
    """
    evaluation = Evaluation(predictor.postprocess.to_dict(), predictor.triage_threshold)
    if save_masks is not None:
        save_masks.mkdir(parents=True, exist_ok=True)
    report_every = max(1, len(items) // _PROGRESS_REPORTS)
    for batch in read_labelled_batches(items, batch_size, evaluation.skipped):
        predictions = predictor.predict_batch([case.image for case in batch])
        for case, prediction in zip(batch, predictions, strict=True):
            evaluation.add(case, prediction)
            if save_masks is not None:
                write_mask(prediction.mask, case.image, save_masks, case.item.image_id, "png")
            done = len(evaluation.images) + len(evaluation.skipped)
            if done % report_every == 0:
                LOGGER.info("evaluated %d of %d images", done, len(items))
    if not evaluation.images:
        raise ValueError(f"none of the {len(items)} labelled images could be read; see the warnings above")
    return evaluation
