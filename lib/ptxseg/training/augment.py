"""The paper's heavy augmentation (flips, intensity, elastic/grid distortion, affine) as MONAI transforms."""

from __future__ import annotations

import numpy as np
from monai import transforms as mt

from ptxseg.transforms.fit import DEFAULT_IMAGE_SIZE

__all__ = ["train_augmentations"]


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
