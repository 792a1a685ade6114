"""Choose the post-processing on a validation set by grid search, and store the choice in the checkpoint.

One forward pass per image: each model-grid probability map is scored against the truth fitted to the model grid
by every candidate at once, then dropped (sums only, so memory does not grow with the set). The model grid is
where post-processing runs and where its ``min_area`` is counted. The choice maximises the mean per-image Dice
(SIIM rule): it charges every false positive on an image without pneumothorax, which is what min-area and triplet
filtering are for, while the pooled Dice barely notices a few stray pixels on empty images.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ptxseg.datasets.labelled import LabelledImage
from ptxseg.evaluation.evaluate import read_labelled_batches
from ptxseg.evaluation.metrics import PooledCounts, per_image_dice
from ptxseg.inference.predictor import Predictor
from ptxseg.model.bundle import load_bundle, model_kind, save_bundle
from ptxseg.model.checkpoint import load_model, save_checkpoint
from ptxseg.transforms.fit import fit_mask, fit_to_square
from ptxseg.transforms.postprocess import ThresholdPostprocess, TripletPostprocess

__all__ = ["candidate_postprocesses", "PostprocessSearch", "TuningResult", "tune_postprocess", "store_postprocess"]

LOGGER = logging.getLogger(__name__)
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7)
# Areas as shares of the model grid, so a grid means the same at 512 and 1024: at 512 x 512, 0.001 is 262 pixels
# (about the smallest pneumothorax annotators draw, see pneumothorax_score) and 0.004 is 1,049.
MIN_AREA_SHARES = (0.0, 0.001, 0.002, 0.004)
TRIPLET_TOP_THRESHOLDS = (0.6, 0.75, 0.9)
TRIPLET_MIN_AREA_SHARES = (0.001, 0.002, 0.004)
TRIPLET_BOTTOM_THRESHOLDS = (0.3, 0.4, 0.5)


def candidate_postprocesses(image_size: int, first=None) -> list[ThresholdPostprocess | TripletPostprocess]:
    """The search grid: threshold x min_area, then triplets (top, min_area, bottom); ``first`` leads (wins ties).

    Example:
        >>> candidates = candidate_postprocesses(512)
        >>> len(candidates), candidates[1]
        (47, ThresholdPostprocess(threshold=0.3, min_area=262))
    """
    grid_pixels = image_size * image_size
    candidates = [first] if first is not None else []
    candidates += [
        ThresholdPostprocess(threshold, round(share * grid_pixels))
        for threshold in THRESHOLDS
        for share in MIN_AREA_SHARES
    ]
    candidates += [
        TripletPostprocess(top, round(share * grid_pixels), bottom)
        for top in TRIPLET_TOP_THRESHOLDS
        for share in TRIPLET_MIN_AREA_SHARES
        for bottom in TRIPLET_BOTTOM_THRESHOLDS
    ]
    return list(dict.fromkeys(candidates))  # frozen dataclasses: equal candidates collapse, first kept


class PostprocessSearch:
    """Per-image Dice sums and pooled counts of every candidate, added one probability map at a time.

    Example:
        >>> search = PostprocessSearch([ThresholdPostprocess(0.5), ThresholdPostprocess(0.7)])
        >>> search.add(np.array([[0.9, 0.6]]), np.array([[True, False]]))
        >>> search.best()[0]
        ThresholdPostprocess(threshold=0.7, min_area=0)
    """

    def __init__(self, candidates: Sequence[ThresholdPostprocess | TripletPostprocess]):
        if not candidates:
            raise ValueError("the post-processing search needs at least one candidate")
        self.candidates = list(candidates)
        self.dice_sums = np.zeros(len(self.candidates))
        self.pooled = [PooledCounts() for _ in self.candidates]
        self.n_images = 0

    def add(self, probability_map: np.ndarray, truth: np.ndarray) -> None:
        """Score one model-grid probability map against the truth on the same grid with every candidate."""
        for index, candidate in enumerate(self.candidates):
            mask = candidate(probability_map)
            self.dice_sums[index] += per_image_dice(mask, truth)
            self.pooled[index].add(mask, truth)
        self.n_images += 1

    def results(self) -> list[dict]:
        """Each candidate with its mean per-image Dice and pooled Dice, in candidate order."""
        if not self.n_images:
            raise ValueError("no image was scored; the post-processing search has nothing to compare")
        return [
            {"postprocess": candidate.to_dict(), "per_image_dice": dice_sum / self.n_images, "pooled_dice": counts.dice}
            for candidate, dice_sum, counts in zip(self.candidates, self.dice_sums, self.pooled, strict=True)
        ]

    def best(self) -> tuple[ThresholdPostprocess | TripletPostprocess, dict]:
        """The candidate with the highest mean per-image Dice (the earliest among equals) and its result."""
        results = self.results()
        index = int(np.argmax([result["per_image_dice"] for result in results]))
        return self.candidates[index], results[index]


@dataclass
class TuningResult:
    """The chosen post-processing, its scores at the model grid, and every candidate's."""

    chosen: ThresholdPostprocess | TripletPostprocess
    per_image_dice: float
    pooled_dice: float | None
    n_images: int
    candidates: list[dict]
    skipped: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        """JSON-ready summary (for metrics.json and the report)."""
        return {
            "chosen": self.chosen.to_dict(),
            "per_image_dice": self.per_image_dice,
            "pooled_dice": self.pooled_dice,
            "n_images": self.n_images,
            "criterion": "highest mean per-image Dice (SIIM rule) at the model grid; earliest candidate among equals",
            "candidates": self.candidates,
            "skipped": self.skipped,
        }


def tune_postprocess(predictor: Predictor, items: Sequence[LabelledImage], batch_size: int = 4) -> TuningResult:
    """Grid-search the post-processing for ``predictor`` on labelled (validation) images, one forward pass each.

    The predictor's current post-processing is the first candidate, so it stays unless another one is better.

    Example:
        >>> predictor = Predictor.from_checkpoint("best.safetensors")  # doctest: +SKIP
        >>> tune_postprocess(predictor, load_data_specs(["ptx498:PTX-498"])).chosen  # doctest: +SKIP
        TripletPostprocess(top_threshold=0.75, min_area=524, bottom_threshold=0.4)
    """
    search = PostprocessSearch(candidate_postprocesses(predictor.image_size, first=predictor.postprocess))
    skipped: list[dict] = []
    for batch in read_labelled_batches(items, batch_size, skipped):
        fitted, fits = zip(*(fit_to_square(case.image.pixels, predictor.image_size) for case in batch), strict=True)
        for case, fit, probability_map in zip(batch, fits, predictor.probability_maps(np.stack(fitted)), strict=True):
            search.add(probability_map, fit_mask(case.truth, fit))
        LOGGER.info("tuning: scored %d of %d images", search.n_images + len(skipped), len(items))
    chosen, result = search.best()
    return TuningResult(
        chosen, result["per_image_dice"], result["pooled_dice"], search.n_images, search.results(), skipped
    )


def store_postprocess(checkpoint: str | os.PathLike, postprocess: ThresholdPostprocess | TripletPostprocess) -> None:
    """Rewrite ``checkpoint`` in place (atomically) with ``postprocess`` in its metadata; weights stay as they are.

    Example:
        >>> store_postprocess("best.safetensors", ThresholdPostprocess(0.6, 262))  # doctest: +SKIP
    """
    if model_kind(checkpoint) != "unet":  # an ensemble or two-stage bundle keeps its post-processing in its options
        bundle = load_bundle(checkpoint)
        bundle.options = {**bundle.options, "postprocess": postprocess.to_dict()}
        save_bundle(checkpoint, bundle)
        return
    model, metadata = load_model(checkpoint)
    metadata.update(postprocess=postprocess.to_dict())
    save_checkpoint(checkpoint, model, metadata)
