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

__all__ = [
    "DEFAULT_IMAGE_SIZE",
    "FitInfo",
    "fit_to_square",
    "fit_mask",
    "undo_fit",
    "undo_fit_mask",
]

DEFAULT_IMAGE_SIZE = 512


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
