"""Training data: labelled images decoded once at the model resolution, then augmented on the fly.

Decoding a 1024x1024 JPEG DICOM costs far more than a training step's augmentation, so each image is read once,
fitted to the model grid and kept in memory as uint8 (a 12,000-image SIIM epoch at 512x512 is ~3 GB, not ~48 GB
of float32 originals). Every source (SIIM RLE, PTX-498 PNGs, a MONAI Label studies folder) becomes a list of
``LabelledImage``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from .io import read_cxr, read_label
from .ptx498 import read_mask
from .siim import RleMask
from .transforms import fit_mask, fit_to_square

__all__ = [
    "LabelledImage",
    "FittedSample",
    "fit_labelled_image",
    "CachedFittedDataset",
    "split_by_id",
    "split_by_ids",
    "select_ids",
    "random_split",
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


def split_by_id(items: Sequence[LabelledImage], val_fraction: float) -> tuple[list, list]:
    """Split into (train, validation) by a hash of each image id: stable as the dataset grows.

    A fine-tuned challenger and the served champion are compared on the same validation images, and an image
    never moves from validation into training when more labels arrive. Both parts get at least one image.

    Example:
        >>> train, val = split_by_id(items, 0.2)  # doctest: +SKIP
    """
    if len(items) < 2:
        raise ValueError(f"need at least 2 labelled images to train and validate, have {len(items)}")
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must lie strictly between 0 and 1, got {val_fraction}")
    ordered = sorted(items, key=lambda item: _unit_hash(item.image_id))
    val_ids = {item.image_id for item in ordered if _unit_hash(item.image_id) < val_fraction}
    if not val_ids:
        val_ids = {ordered[0].image_id}
    if len(val_ids) == len(items):
        val_ids.discard(ordered[-1].image_id)
    train = [item for item in items if item.image_id not in val_ids]
    return train, [item for item in items if item.image_id in val_ids]


def _unit_hash(text: str) -> float:
    """A stable pseudo-random number in [0, 1) for a string."""
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) / 2**32


def random_split(items: Sequence[LabelledImage], val_fraction: float, seed: int) -> tuple[list, list]:
    """A seeded random (train, validation) split; both parts get at least one image.

    Example:
        >>> train, val = random_split(items, 0.1, seed=0)  # doctest: +SKIP
    """
    if len(items) < 2:
        raise ValueError(f"need at least 2 labelled images to train and validate, have {len(items)}")
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must lie strictly between 0 and 1, got {val_fraction}")
    order = np.random.default_rng(seed).permutation(len(items))
    count = min(len(items) - 1, max(1, round(val_fraction * len(items))))
    chosen = set(order[:count].tolist())
    return [x for i, x in enumerate(items) if i not in chosen], [x for i, x in enumerate(items) if i in chosen]


def select_ids(items: Sequence[LabelledImage], id_file: Path) -> list[LabelledImage]:
    """The images whose ids a file lists (one per line, or the ``ImageId`` column of a CSV such as SIIM's
    stage-1 test list), in data order. Listed ids missing from the data are an error."""
    lines = [line.split(",")[0].strip() for line in Path(id_file).read_text().splitlines() if line.strip()]
    wanted = {line for line in lines if line and line != "ImageId"}
    missing = sorted(wanted - {item.image_id for item in items})
    if missing:
        raise ValueError(f"{len(missing)} ids listed in {id_file} are not in the data (e.g. {missing[0]})")
    return [item for item in items if item.image_id in wanted]


def split_by_ids(items: Sequence[LabelledImage], id_file: Path) -> tuple[list, list]:
    """Validation = the images an id file lists (see :func:`select_ids`); training = the rest."""
    val = select_ids(items, id_file)
    chosen = {item.image_id for item in val}
    train = [item for item in items if item.image_id not in chosen]
    if not val or not train:
        raise ValueError(f"{id_file} leaves {len(train)} training and {len(val)} validation images; need both")
    return train, val
