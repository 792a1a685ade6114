"""Image-level scores for active learning and worklist triage: probability, uncertainty and the triage flag.

The probability is the one /infer reports; the uncertainty comes from ``ptxseg.inference.uncertainty`` (flip-TTA by
default, MC dropout for models trained with dropout).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ptxseg.image import CXRImage
from ptxseg.inference.predictor import Predictor
from ptxseg.inference.uncertainty import FlipUncertainty, Uncertainty
from ptxseg.transforms.fit import fit_to_square
from ptxseg.transforms.postprocess import pneumothorax_score

__all__ = ["ImageScore", "score_images"]


@dataclass(frozen=True)
class ImageScore:
    """Pneumothorax probability (as /infer reports it), uncertainty in [0, 1], and the triage flag."""

    probability: float
    uncertainty: float
    flag: bool


def score_images(
    predictor: Predictor, images: list[CXRImage], uncertainty: Uncertainty | None = None
) -> list[ImageScore]:
    """Score a batch of images: one forward pass for the probabilities, then the uncertainty method's passes.

    Args:
        predictor: the served model.
        images: the studies to score.
        uncertainty: how unsure the model is; None means flip-TTA with ``predictor``.

    Example:
        >>> scores = score_images(predictor, [read_cxr("a.dcm"), read_cxr("b.png")])  # doctest: +SKIP
    """
    uncertainty = uncertainty or FlipUncertainty(predictor)
    fitted = np.stack([fit_to_square(image.pixels, predictor.image_size)[0] for image in images])
    maps = predictor.probability_maps(fitted)
    scores = []
    for probability_map, spread in zip(maps, uncertainty(fitted, maps), strict=True):
        probability = pneumothorax_score(probability_map)
        scores.append(
            ImageScore(probability=probability, uncertainty=spread, flag=probability >= predictor.triage_threshold)
        )
    return scores
