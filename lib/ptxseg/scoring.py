"""Image-level scores for active learning and worklist triage: probability and flip-TTA uncertainty.

Uncertainty is the disagreement of the model with itself under a horizontal flip (test-time augmentation): a
model that has learnt an image's pneumothorax segments it the same way mirrored; one that guesses does not. It
works with every inference runtime (MC dropout would need the PyTorch model with dropout layers).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .image import CXRImage
from .postprocess import pneumothorax_score
from .predict import Predictor
from .transforms import fit_to_square

__all__ = ["ImageScore", "flip_disagreement", "score_images"]


@dataclass(frozen=True)
class ImageScore:
    """Pneumothorax probability (as /infer reports it), flip disagreement in [0, 1], and the triage flag."""

    probability: float
    uncertainty: float
    flag: bool


def flip_disagreement(original: np.ndarray, flipped_back: np.ndarray) -> float:
    """Soft disagreement of two probability maps of one image, in [0, 1].

    The sum of absolute differences over the soft union (plus one pixel, so two confident empty maps give 0,
    not 0/0): 0 when both maps agree, near 1 when their foregrounds do not overlap.

    Example:
        >>> a = np.zeros((4, 4)); b = a.copy(); a[0, :2] = 1; b[3, 2:] = 1
        >>> round(flip_disagreement(a, b), 3)
        0.8
    """
    difference = float(np.abs(original - flipped_back).sum())
    union = float(np.maximum(original, flipped_back).sum())
    return difference / (union + 1.0)


def score_images(predictor: Predictor, images: list[CXRImage]) -> list[ImageScore]:
    """Score a batch of images with two forward passes (as is and mirrored).

    Example:
        >>> scores = score_images(predictor, [read_cxr("a.dcm"), read_cxr("b.png")])  # doctest: +SKIP
    """
    fitted = np.stack([fit_to_square(image.pixels, predictor.image_size)[0] for image in images])
    maps = predictor.probability_maps(fitted)
    mirrored = predictor.probability_maps(np.ascontiguousarray(fitted[:, :, ::-1]))[:, :, ::-1]
    scores = []
    for probability_map, mirrored_map in zip(maps, mirrored, strict=True):
        probability = pneumothorax_score(probability_map)
        scores.append(
            ImageScore(
                probability=probability,
                uncertainty=flip_disagreement(probability_map, mirrored_map),
                flag=probability >= predictor.triage_threshold,
            )
        )
    return scores
