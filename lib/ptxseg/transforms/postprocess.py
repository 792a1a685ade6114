"""From a probability map to a mask and an image-level score, as small configurable classes.

The classes follow the SIIM-ACR 1st-place solution (sneddy): a plain threshold with a connected-component filter,
and triplet thresholding. Both are frozen dataclasses that round-trip through ``to_dict`` and
:func:`postprocess_from_dict`, so the exact post-processing travels inside a checkpoint's metadata. Areas are in
pixels of the map they are applied to: a ``min_area`` tuned at 1024 x 1024 is four times one tuned at 512 x 512.
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, fields
from typing import ClassVar

import numpy as np
from scipy import ndimage

__all__ = [
    "ThresholdPostprocess",
    "TripletPostprocess",
    "postprocess_from_dict",
    "remove_small_components",
    "pneumothorax_score",
]

# 8-connectivity: a lesion outline touching only at a corner is still one lesion.
_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def _check_threshold(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {value}")


def _check_min_area(min_area: int) -> None:
    if min_area < 0 or int(min_area) != min_area:
        raise ValueError(f"min_area must be a whole number of pixels >= 0, got {min_area}")


def _check_probability_map(prob: np.ndarray) -> np.ndarray:
    prob = np.asarray(prob)
    if prob.ndim != 2:
        raise ValueError(f"expected a 2-D probability map (rows, columns), got shape {prob.shape}; squeeze channels")
    return prob


def remove_small_components(mask: np.ndarray, min_area: int) -> np.ndarray:
    """Drop 8-connected foreground components with fewer than ``min_area`` pixels.

    Args:
        mask: 2-D boolean mask.
        min_area: smallest component (in pixels) to keep; 0 keeps everything.

    Returns:
        A new boolean mask.

    Example:
        >>> mask = np.zeros((4, 4), bool); mask[0, 0] = True; mask[2:, 2:] = True
        >>> int(remove_small_components(mask, 2).sum())
        4
    """
    _check_min_area(min_area)
    mask = np.asarray(mask, dtype=bool)
    if min_area == 0:
        return mask.copy()
    labels, _ = ndimage.label(mask, structure=_EIGHT_CONNECTED)
    keep = np.bincount(labels.ravel()) >= min_area
    keep[0] = False  # label 0 is the background
    return keep[labels]


@dataclass(frozen=True)
class ThresholdPostprocess:
    """Binarise at ``threshold`` (strictly greater), then drop components smaller than ``min_area`` pixels.

    This filters each component on its own; the SIIM rule "empty if the whole mask is small" is
    :class:`TripletPostprocess` with equal thresholds.

    Example:
        >>> prob = np.zeros((4, 4)); prob[0, 0] = 0.9; prob[2:, 2:] = 0.8
        >>> int(ThresholdPostprocess(threshold=0.5, min_area=2)(prob).sum())
        4
    """

    kind: ClassVar[str] = "threshold"
    threshold: float = 0.5
    min_area: int = 0

    def __post_init__(self) -> None:
        _check_threshold("threshold", self.threshold)
        _check_min_area(self.min_area)

    def __call__(self, prob: np.ndarray) -> np.ndarray:
        """Return the boolean mask for a 2-D probability map."""
        return remove_small_components(_check_probability_map(prob) > self.threshold, self.min_area)

    def to_dict(self) -> dict:
        """Plain-JSON form, read back by :func:`postprocess_from_dict`."""
        return {"kind": self.kind, **asdict(self)}


@dataclass(frozen=True)
class TripletPostprocess:
    """Triplet thresholding (SIIM 1st place): a confident core decides *whether*, a lower threshold decides *where*.

    If fewer than ``min_area`` pixels exceed ``top_threshold`` the mask is empty; otherwise it is every pixel above
    ``bottom_threshold``. This removes faint false positives on negative images without shrinking true lesions.

    Example:
        >>> prob = np.full((4, 4), 0.5); prob[0, :2] = 0.9
        >>> int(TripletPostprocess(top_threshold=0.8, min_area=2, bottom_threshold=0.4)(prob).sum())
        16
        >>> int(TripletPostprocess(top_threshold=0.8, min_area=3, bottom_threshold=0.4)(prob).sum())
        0
    """

    kind: ClassVar[str] = "triplet"
    top_threshold: float
    min_area: int
    bottom_threshold: float

    def __post_init__(self) -> None:
        _check_threshold("top_threshold", self.top_threshold)
        _check_threshold("bottom_threshold", self.bottom_threshold)
        _check_min_area(self.min_area)
        if self.bottom_threshold > self.top_threshold:
            raise ValueError(
                f"bottom_threshold ({self.bottom_threshold}) must not exceed top_threshold ({self.top_threshold})"
            )

    def __call__(self, prob: np.ndarray) -> np.ndarray:
        """Return the boolean mask for a 2-D probability map."""
        prob = _check_probability_map(prob)
        if np.count_nonzero(prob > self.top_threshold) < self.min_area:
            return np.zeros(prob.shape, dtype=bool)
        return prob > self.bottom_threshold

    def to_dict(self) -> dict:
        """Plain-JSON form, read back by :func:`postprocess_from_dict`."""
        return {"kind": self.kind, **asdict(self)}


_KINDS = {cls.kind: cls for cls in (ThresholdPostprocess, TripletPostprocess)}


def postprocess_from_dict(config: dict) -> ThresholdPostprocess | TripletPostprocess:
    """Rebuild a post-processing step from its ``to_dict()`` form, rejecting unknown kinds and keys.

    Example:
        >>> postprocess_from_dict({"kind": "threshold", "threshold": 0.4, "min_area": 10})
        ThresholdPostprocess(threshold=0.4, min_area=10)
    """
    params = dict(config)
    kind = params.pop("kind", None)
    if kind not in _KINDS:
        raise ValueError(f"unknown post-processing kind {kind!r}; use one of {sorted(_KINDS)}")
    cls = _KINDS[kind]
    names = {field.name for field in fields(cls)}
    unknown = sorted(set(params) - names)
    if unknown:
        raise ValueError(f"unknown keys {unknown} for {kind!r} post-processing; valid keys: {sorted(names)}")
    required = sorted(field.name for field in fields(cls) if field.default is MISSING and field.name not in params)
    if required:
        raise ValueError(f"{kind!r} post-processing needs {required}; got {sorted(params)}")
    return cls(**params)


def pneumothorax_score(prob_map: np.ndarray, top_fraction: float = 0.001) -> float:
    """Image-level pneumothorax score: the mean of the highest ``top_fraction`` of probabilities (at least one).

    Why not the maximum: one hot pixel would flag the image. Why not the mean: a small pneumothorax would vanish in
    the healthy lung. 0.1% of the image (262 pixels at 512 x 512) is about the smallest lesion annotators draw.
    The score lies in [0, 1] for probabilities in [0, 1] and never falls when any probability rises.

    Example:
        >>> prob = np.zeros((100, 100)); prob[0, 0] = 1.0
        >>> pneumothorax_score(prob)
        0.1
    """
    prob = np.asarray(prob_map, dtype=np.float64).ravel()
    if prob.size == 0:
        raise ValueError("cannot score an empty probability map")
    if not 0.0 < top_fraction <= 1.0:
        raise ValueError(f"top_fraction must be in (0, 1], got {top_fraction}")
    top_k = max(1, int(prob.size * top_fraction))
    return float(np.partition(prob, prob.size - top_k)[-top_k:].mean())
