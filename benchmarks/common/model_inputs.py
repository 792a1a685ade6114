"""Benchmark inputs (phantoms prepared exactly as the Predictor prepares an image) and output agreement."""

from __future__ import annotations

import argparse
import os

import numpy as np

from ptxseg.datasets.labelled import LabelledImage
from ptxseg.evaluation.metrics import mean_per_image_dice
from ptxseg.options.values import check_input_side
from ptxseg.phantom.files import write_phantoms
from ptxseg.phantom.synthetic import make_phantom
from ptxseg.transforms.fit import fit_to_square
from ptxseg.transforms.intensity import normalize

__all__ = ["input_side", "phantom_batch", "phantom_training_items", "mask_agreement", "max_probability_difference"]


def input_side(text: str) -> int:
    """argparse type for ``--size``: the library's input-side check, reported as a usage error."""
    try:
        return check_input_side(int(text), "the input side")
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def phantom_batch(size: int, count: int = 1, seed: int = 0) -> np.ndarray:
    """``count`` phantoms (alternately with and without pneumothorax) as a normalised (N, 1, S, S) float32 batch.

    Fitting and normalising use the Predictor's own functions, so the network sees what it sees in service.

    Example:
        >>> phantom_batch(64, count=2).shape
        (2, 1, 64, 64)
    """
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    fitted = [
        fit_to_square(make_phantom(size, positive=index % 2 == 0, seed=seed + index).image, size)[0]
        for index in range(count)
    ]
    return normalize(np.stack(fitted))[:, None]


def phantom_training_items(folder: str | os.PathLike, count: int, size: int, seed: int = 0) -> list[LabelledImage]:
    """Write ``count`` PNG phantoms with masks (half positive) under ``folder``; return them as training items.

    Example:
        >>> [item.image_id for item in phantom_training_items("phantoms", 2, 64)]  # doctest: +SKIP
        ['phantom-0000', 'phantom-0001']
    """
    written = write_phantoms(folder, count, size=size, fmt="png", seed=seed)
    return [LabelledImage(item.image_id, item.image_path, item.mask_path) for item in written]


def _masks(logits: np.ndarray) -> list[np.ndarray]:
    # logit >= 0 is probability >= 0.5, the default threshold of ThresholdPostprocess.
    return [item[0] >= 0 for item in logits]


def mask_agreement(reference_logits: np.ndarray, logits: np.ndarray) -> float:
    """Mean per-image Dice between the thresholded masks of two runs of the same batch (1.0: identical masks).

    Example:
        >>> mask_agreement(np.ones((1, 1, 4, 4)), np.ones((1, 1, 4, 4)))
        1.0
    """
    return mean_per_image_dice(_masks(logits), _masks(reference_logits))


def max_probability_difference(reference_logits: np.ndarray, logits: np.ndarray) -> float:
    """Largest absolute difference of the two runs' sigmoid probabilities over all pixels.

    Example:
        >>> max_probability_difference(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 2, 2)))
        0.0
    """

    def sigmoid(values: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-values.astype(np.float64)))

    return float(np.abs(sigmoid(logits) - sigmoid(reference_logits)).max())
