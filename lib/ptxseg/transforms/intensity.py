"""Intensity normalisation of fitted [0, 1] pixels with the ImageNet grey mean and standard deviation."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["IMAGENET_GREY_MEAN", "IMAGENET_GREY_STD", "normalize"]

# ImageNet's RGB mean/std averaged over channels: the first convolution's RGB kernels are summed into one grey
# channel, so a grey input normalised this way sees the statistics the pretrained encoder was trained on.
IMAGENET_GREY_MEAN = 0.449


IMAGENET_GREY_STD = 0.226


def normalize(fitted: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """Standardise [0, 1] pixels (numpy or torch) with the grey ImageNet statistics the encoder expects."""
    normalized = (fitted - IMAGENET_GREY_MEAN) / IMAGENET_GREY_STD
    return normalized.astype(np.float32, copy=False) if isinstance(normalized, np.ndarray) else normalized
