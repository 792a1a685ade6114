"""The SIIM 2nd place's two stages: an image-level classifier decides *whether*, the U-Net outlines *where*.

An image the classifier scores below ``classifier_threshold`` gets an empty mask whatever the U-Net sees; the
image's pneumothorax probability is the classifier's. Everything else is the ``Predictor``'s data path.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from ptxseg.inference.predictor import Predictor
from ptxseg.inference.runtimes import InferenceBackend
from ptxseg.options import check_probability
from ptxseg.transforms.intensity import normalize

__all__ = ["TwoStagePredictor"]


class TwoStagePredictor(Predictor):
    """A ``Predictor`` whose masks are gated by an image-level classifier.

    Args:
        classifier: normalised batch -> N logits (any shape of N values: a runtime's (N, 1) output does).
        classifier_threshold: classifier probability below which the mask is empty.
        backend, image_size, postprocess, triage_threshold: the segmenter's, as for ``Predictor``; the triage flag
            is raised by the classifier's probability.

    Example:
        >>> zero = lambda batch: np.full((len(batch), 1, 64, 64), 9.0, np.float32)  # a U-Net that sees everywhere
        >>> no = TwoStagePredictor(lambda batch: np.full(len(batch), -9.0), 0.5, zero, image_size=64)
        >>> maps, scores = no.maps_and_scores(np.zeros((1, 64, 64), np.float32))
        >>> float(maps.max()), round(scores[0], 4)
        (0.0, 0.0001)
    """

    def __init__(self, classifier, classifier_threshold: float, backend: InferenceBackend, **predictor_options):
        super().__init__(backend, **predictor_options)
        check_probability("classifier_threshold", classifier_threshold)
        self.classifier = classifier
        self.classifier_threshold = classifier_threshold

    def maps_and_scores(self, fitted: np.ndarray) -> tuple[np.ndarray, list[float]]:
        """The segmenter's maps, zeroed where the classifier says no, and the classifier's probabilities."""
        batch = normalize(np.asarray(fitted, np.float32))[:, None]
        probabilities = expit(np.asarray(self.classifier(batch), np.float32).reshape(len(batch)))
        maps = super().probability_maps(fitted)
        maps[probabilities < self.classifier_threshold] = 0.0
        return maps, [float(value) for value in probabilities]

    def probability_maps(self, fitted: np.ndarray) -> np.ndarray:
        """Gated maps: what tuning, flip uncertainty and the threshold sweep must see."""
        return self.maps_and_scores(fitted)[0]
