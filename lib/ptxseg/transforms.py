"""Preprocessing shared by training and inference: fit an X-ray to the model's square input and undo it.

The fit is a letterbox: scale the longer side to ``size`` (aspect ratio kept, so a rib stays a rib), pad the
shorter side symmetrically with black. ``FitInfo`` remembers how, so a probability map or mask at the model grid
goes back to exactly the original pixel grid. Augmentations are MONAI dict transforms on channel-first arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from monai import transforms as mt

__all__ = [
    "DEFAULT_IMAGE_SIZE",
    "IMAGENET_GREY_MEAN",
    "IMAGENET_GREY_STD",
    "FitInfo",
    "fit_to_square",
    "fit_mask",
    "undo_fit",
    "undo_fit_mask",
    "normalize",
    "train_augmentations",
]

DEFAULT_IMAGE_SIZE = 512
# ImageNet's RGB mean/std averaged over channels: the first convolution's RGB kernels are summed into one grey
# channel, so a grey input normalised this way sees the statistics the pretrained encoder was trained on.
IMAGENET_GREY_MEAN = 0.449
IMAGENET_GREY_STD = 0.226


@dataclass(frozen=True)
class FitInfo:
    """How an image was fitted into the square model input, so the fit can be undone exactly."""

    original_shape: tuple[int, int]
    resized_shape: tuple[int, int]
    pad_top: int
    pad_left: int
    size: int


def _resize(array: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a 2-D float array, antialiased when shrinking (1024 -> 512 must not alias ribs)."""
    if tuple(array.shape) == tuple(shape):
        return array.astype(np.float32, copy=False)
    tensor = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))[None, None]
    shrinking = shape[0] < array.shape[0] or shape[1] < array.shape[1]
    resized = F.interpolate(tensor, size=shape, mode="bilinear", align_corners=False, antialias=shrinking)
    return resized[0, 0].numpy()


def fit_to_square(pixels: np.ndarray, size: int = DEFAULT_IMAGE_SIZE) -> tuple[np.ndarray, FitInfo]:
    """Letterbox a 2-D image into a ``size`` x ``size`` float32 array.

    Args:
        pixels: 2-D array (rows, columns), e.g. ``CXRImage.pixels``.
        size: side of the square model input.

    Returns:
        The fitted array and the ``FitInfo`` needed by :func:`undo_fit`.

    Example:
        >>> fitted, info = fit_to_square(np.ones((100, 50), np.float32), 64)
        >>> fitted.shape, info.resized_shape, info.pad_left
        ((64, 64), (64, 32), 16)
    """
    if pixels.ndim != 2 or min(pixels.shape) < 1:
        raise ValueError(f"expected a non-empty 2-D image (rows, columns), got shape {pixels.shape}")
    if size < 1:
        raise ValueError(f"size must be a positive number of pixels, got {size}")
    rows, cols = pixels.shape
    scale = size / max(rows, cols)
    resized_shape = (max(1, round(rows * scale)), max(1, round(cols * scale)))
    pad_top = (size - resized_shape[0]) // 2
    pad_left = (size - resized_shape[1]) // 2
    fitted = np.zeros((size, size), np.float32)
    fitted[pad_top : pad_top + resized_shape[0], pad_left : pad_left + resized_shape[1]] = _resize(
        pixels, resized_shape
    )
    return fitted, FitInfo((rows, cols), resized_shape, pad_top, pad_left, size)


def fit_mask(mask: np.ndarray, info: FitInfo) -> np.ndarray:
    """Fit a mask on the original grid into the model grid the same way its image was fitted (bool result)."""
    if tuple(mask.shape) != info.original_shape:
        raise ValueError(f"mask shape {mask.shape} does not match its image's shape {info.original_shape}")
    fitted = np.zeros((info.size, info.size), bool)
    rows, cols = info.resized_shape
    fitted[info.pad_top : info.pad_top + rows, info.pad_left : info.pad_left + cols] = (
        _resize(mask.astype(np.float32), info.resized_shape) >= 0.5
    )
    return fitted


def undo_fit(array: np.ndarray, info: FitInfo) -> np.ndarray:
    """Bring a float map at the model grid (e.g. probabilities) back to the original pixel grid (bilinear)."""
    if tuple(array.shape) != (info.size, info.size):
        raise ValueError(f"expected a {info.size}x{info.size} map at the model grid, got shape {array.shape}")
    rows, cols = info.resized_shape
    cropped = array[info.pad_top : info.pad_top + rows, info.pad_left : info.pad_left + cols]
    return _resize(cropped, info.original_shape)


def undo_fit_mask(mask: np.ndarray, info: FitInfo) -> np.ndarray:
    """Bring a mask at the model grid back to the original grid; interpolating as float keeps edges smooth."""
    return undo_fit(mask.astype(np.float32), info) >= 0.5


def normalize(fitted: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """Standardise [0, 1] pixels (numpy or torch) with the grey ImageNet statistics the encoder expects."""
    normalized = (fitted - IMAGENET_GREY_MEAN) / IMAGENET_GREY_STD
    return normalized.astype(np.float32, copy=False) if isinstance(normalized, np.ndarray) else normalized


def _with_probability(options: list, prob: float) -> mt.OneOf:
    """Pick one of ``options`` with total probability ``prob``, else leave the sample unchanged."""
    share = prob / len(options)
    return mt.OneOf([*options, mt.Identityd(("image", "label"))], weights=[share] * len(options) + [1.0 - prob])


def train_augmentations(
    size: int = DEFAULT_IMAGE_SIZE,
    flip_p: float = 0.5,
    intensity_p: float = 0.3,
    distortion_p: float = 0.3,
    affine_p: float = 0.5,
) -> mt.Compose:
    """The paper's heavy augmentation as MONAI dict transforms on channel-first ``image``/``label`` arrays.

    Horizontal flip (p=0.5); brightness/contrast or gamma (p=0.3); elastic or grid distortion (p=0.3); affine
    with translate +-20 %, scale 0.8-1.2, rotate +-20 degrees (p=0.5). Apply to [0, 1] images at the model grid
    (``size`` x ``size``) before :func:`normalize`; labels are interpolated nearest-neighbour.

    Example:
        >>> augment = train_augmentations(64)
        >>> sample = augment({"image": np.zeros((1, 64, 64), np.float32), "label": np.zeros((1, 64, 64), np.float32)})
    """
    keys = ("image", "label")
    interpolation = ("bilinear", "nearest")
    brightness_contrast = mt.Compose(
        [
            mt.RandScaleIntensityd("image", factors=0.2, prob=1.0),
            mt.RandShiftIntensityd("image", offsets=0.1, prob=1.0),
        ]
    )
    gamma = mt.RandAdjustContrastd("image", gamma=(0.7, 1.5), prob=1.0)
    spacing = max(4, size // 16)
    elastic = mt.Rand2DElasticd(keys, spacing=spacing, magnitude_range=(1, 2), prob=1.0, mode=interpolation)
    grid = mt.RandGridDistortiond(keys, num_cells=5, distort_limit=0.1, prob=1.0, mode=interpolation)
    shift = 0.2 * size
    affine = mt.RandAffined(
        keys,
        prob=affine_p,
        rotate_range=np.deg2rad(20.0),
        translate_range=(shift, shift),
        scale_range=(0.2, 0.2),
        mode=interpolation,
        padding_mode="zeros",
    )
    return mt.Compose(
        [
            mt.RandFlipd(keys, prob=flip_p, spatial_axis=1),
            _with_probability([brightness_contrast, gamma], intensity_p),
            _with_probability([elastic, grid], distortion_p),
            affine,
        ]
    )
