"""Training data: labelled images decoded once at the model resolution, then augmented on the fly.

Decoding a 1024x1024 JPEG DICOM costs far more than a training step's augmentation, so each image is read once,
fitted to the model grid and kept in memory as uint8 (a 12,000-image SIIM epoch at 512x512 is ~3 GB, not ~48 GB
of float32 originals). Every source (SIIM RLE, PTX-498 PNGs, a MONAI Label studies folder) becomes a list of
``LabelledImage``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ptxseg.datasets.siim import RleMask
from ptxseg.io.labels import read_label
from ptxseg.io.masks import read_mask
from ptxseg.io.reader import read_cxr
from ptxseg.transforms.fit import fit_mask, fit_to_square

__all__ = [
    "LabelledImage",
    "FittedSample",
    "fit_labelled_image",
    "CachedFittedDataset",
]


@dataclass(frozen=True)
class LabelledImage:
    """An image file and its ground truth: a mask array on the image's grid, a mask or label file, or SIIM RLE."""

    image_id: str
    image_path: Path
    mask: np.ndarray | Path | RleMask | None = None

    def load_mask(self, shape: tuple[int, int]) -> np.ndarray:
        """The boolean ground truth on the image grid; no mask means no pneumothorax."""
        if self.mask is None:
            return np.zeros(shape, bool)
        if isinstance(self.mask, RleMask):
            return self.mask.decode(shape)
        mask = _read_mask_file(Path(self.mask)) if isinstance(self.mask, (str, Path)) else np.asarray(self.mask)
        if tuple(mask.shape) != tuple(shape):
            raise ValueError(f"{self.image_id}: mask shape {mask.shape} does not match the image's shape {shape}")
        return mask.astype(bool)


def _read_mask_file(path: Path) -> np.ndarray:
    """Mask pictures (PNG/JPEG/BMP: 0/255, palette or RGB) by colour; label volumes (NRRD/NIfTI) by value."""
    if path.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp"):
        return read_mask(path)
    return read_label(path) != 0


@dataclass(frozen=True)
class FittedSample:
    """One decoded sample at the model grid: uint8 image (0..255 for [0, 1]) and bool label."""

    image_id: str
    image: np.ndarray
    label: np.ndarray


def fit_labelled_image(item: LabelledImage, size: int) -> FittedSample:
    """Read, fit and quantise one labelled image (the cacheable part of the training data path)."""
    image = read_cxr(item.image_path)
    fitted, info = fit_to_square(image.pixels, size)
    label = fit_mask(item.load_mask(image.shape), info)
    return FittedSample(item.image_id, np.round(np.clip(fitted, 0, 1) * 255).astype(np.uint8), label)


class CachedFittedDataset(Dataset):
    """Decoded-once samples, augmented per access; items are dicts of channel-first float32 tensors.

    Args:
        items: the labelled images.
        size: model input side.
        augment: a MONAI dict transform on ``image``/``label`` (see ``train_augmentations``), or None.
    """

    def __init__(self, items: Sequence[LabelledImage], size: int, augment: Callable | None = None):
        self.samples = [fit_labelled_image(item, size) for item in items]
        self.augment = augment

    @classmethod
    def from_samples(cls, samples: Sequence[FittedSample], augment: Callable | None = None) -> CachedFittedDataset:
        """A dataset over already decoded samples (e.g. an un-augmented view of a training set)."""
        dataset = cls([], 1, augment)
        dataset.samples = list(samples)
        return dataset

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict:
        sample = self.samples[index]
        data = {
            "image": sample.image[None].astype(np.float32) / 255.0,
            "label": sample.label[None].astype(np.float32),
        }
        if self.augment is not None:
            data = self.augment(data)
        return {
            "image": torch.as_tensor(np.asarray(data["image"]), dtype=torch.float32),
            "label": torch.as_tensor(np.asarray(data["label"]) > 0.5, dtype=torch.float32),
            "index": index,
        }
