"""A small U-Net checkpoint whose masks have edges: random weights with BatchNorm statistics of phantom chests.

Untrained, so its masks are meaningless, but they cover roughly 10-20 % of an image, which is what tests of the
plumbing around a model need (an all-empty mask would make every comparison trivially true).
"""

from pathlib import Path

import numpy as np
import torch

from ptxseg.model.checkpoint import CheckpointMetadata, save_checkpoint
from ptxseg.model.network import build_architecture, recalibrate_batchnorm
from ptxseg.phantom.synthetic import make_phantom
from ptxseg.transforms.fit import fit_to_square
from ptxseg.transforms.intensity import normalize

SMALL_MODEL_SIZE = 64


def write_small_checkpoint(path: Path, size: int = SMALL_MODEL_SIZE, dropout: float = 0.0) -> Path:
    """Save an EfficientNet-B0 U-Net for ``size`` x ``size`` inputs to ``path``; the same file for the same size."""
    torch.manual_seed(0)
    fitted = np.stack([fit_to_square(make_phantom(size, seed=seed).image, size)[0] for seed in range(4)])
    model = build_architecture("efficientnet-b0", dropout=dropout)
    model = recalibrate_batchnorm(model, [normalize(torch.from_numpy(fitted))[:, None]])
    metadata = CheckpointMetadata(encoder="efficientnet-b0", image_size=size, dropout=dropout)
    return save_checkpoint(path, model, metadata)
