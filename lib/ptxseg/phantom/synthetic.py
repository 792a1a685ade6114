"""Synthetic chest X-rays with known pneumothorax masks, for tests, demos and benchmarks.

A phantom is a PA chest radiograph (body, lungs with branching vessels, heart, mediastinum, ribs, clavicles,
spine, noise). A positive one has a pneumothorax: at the apex or along the lateral wall of one lung, a lucent
crescent without lung markings, bounded by the thin bright visceral pleural line over the denser edge of the
collapsed lung. The mask is that crescent. The patient's right is on the image's left (columns < W/2).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ptxseg.phantom.anatomy import Lung, render_chest

__all__ = ["Phantom", "make_dataset", "make_phantom"]

_MIN_SIDE = 64
_MAX_SIDE = 4096
_SIDES = ("right", "left")
# Pneumothorax sites as (centre, half-width) of an angular sector around the lung's outline centre, measured from
# the lateral direction (0) towards the apex (pi/2): air collects where the upright patient's pleura is highest.
_SITES = {"apical": (np.pi / 2 - 0.3, 1.0), "lateral": (0.15, 1.05)}
_VESSEL_CONTRAST = 0.1


@dataclass(frozen=True)
class Phantom:
    """A synthetic chest X-ray and its ground truth.

    Attributes:
        image: float32 (rows, columns) in [0, 1], brighter = denser, displayed as a PA radiograph.
        mask: bool (rows, columns), True on the pneumothorax; all False for a negative.
        side: 'right' or 'left' in patient terms (the patient's right is on the image's left), None if negative.
    """

    image: np.ndarray
    mask: np.ndarray
    side: str | None


def make_phantom(
    size: int = 256,
    positive: bool = True,
    seed: int = 0,
    difficulty: float = 0.5,
    shape: tuple[int, int] | None = None,
    side: str | None = None,
) -> Phantom:
    """Make one synthetic chest X-ray, with or without a pneumothorax.

    The same seed gives the same chest whether ``positive`` is True or False, so the pair differs only by the
    pneumothorax.

    Args:
        size: rows and columns of a square image (64..4096); ignored when ``shape`` is given.
        positive: whether to add a pneumothorax.
        seed: random seed; the same arguments always give the identical phantom.
        difficulty: 0 (obvious: deep, high-contrast pneumothorax, little noise) .. 1 (thin, faint, noisy).
        shape: (rows, columns) for a non-square image.
        side: 'right' or 'left' (patient terms) to choose the pneumothorax side; random when None.

    Returns:
        The phantom image, mask and pneumothorax side.

    Raises:
        ValueError: on a size outside 64..4096, a difficulty outside [0, 1], an unknown side, or a side for a
            negative phantom.

    Example:
        >>> phantom = make_phantom(128, positive=True, seed=3, side="right")
        >>> phantom.image.shape, phantom.side, bool(phantom.mask[:, 64:].any())
        ((128, 128), 'right', False)
    """
    shape = _checked_shape(size, shape)
    _check_difficulty(difficulty)
    if side is not None and side not in _SIDES:
        raise ValueError(f"side must be 'right', 'left' or None (patient terms), got {side!r}")
    if side is not None and not positive:
        raise ValueError("a negative phantom has no pneumothorax side; pass side=None or positive=True")
    anatomy_rng, finding_rng, noise_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3))

    layers = render_chest(shape, anatomy_rng)
    image = layers.base + _VESSEL_CONTRAST * layers.vessels
    mask = np.zeros(shape, dtype=bool)
    if positive:
        side = side or _SIDES[finding_rng.integers(2)]
        lung = layers.lungs[_SIDES.index(side)]
        mask, edge_distance_px = _pneumothorax_region(lung, finding_rng, difficulty)
        image = _draw_pneumothorax(image, layers.vessels, mask, edge_distance_px, difficulty, finding_rng)
    image = _add_noise(image, difficulty, noise_rng)
    return Phantom(image=image, mask=mask, side=side if positive else None)


def make_dataset(
    n: int, size: int = 256, seed: int = 0, positive_fraction: float = 0.5, difficulty: float = 0.5
) -> Iterator[Phantom]:
    """Make ``n`` phantoms lazily, ``round(n * positive_fraction)`` of them positive, in a seeded random order.

    Arguments are checked at the call, before any phantom is made.

    Args:
        n: number of phantoms.
        size: rows and columns of each.
        seed: seed of the whole set; each phantom gets its own seed derived from it.
        positive_fraction: share of positives in [0, 1].
        difficulty: passed to :func:`make_phantom`.

    Returns:
        An iterator of phantoms, each with a different chest.

    Raises:
        ValueError: a negative ``n``, or a size, fraction or difficulty out of range.

    Example:
        >>> [p.side is not None for p in make_dataset(4, size=64, seed=1, positive_fraction=0.5)].count(True)
        2
    """
    if n < 0:
        raise ValueError(f"n must be a non-negative number of phantoms, got {n}")
    if not 0.0 <= positive_fraction <= 1.0:
        raise ValueError(f"positive_fraction must be in [0, 1], got {positive_fraction}")
    _checked_shape(size, None)
    _check_difficulty(difficulty)
    return _phantom_stream(n, size, seed, positive_fraction, difficulty)


def _phantom_stream(n: int, size: int, seed: int, positive_fraction: float, difficulty: float) -> Iterator[Phantom]:
    sequence = np.random.SeedSequence(seed)
    positives = np.zeros(n, dtype=bool)
    positives[: round(n * positive_fraction)] = True
    np.random.default_rng(sequence).shuffle(positives)
    for child, positive in zip(sequence.spawn(n), positives, strict=True):
        yield make_phantom(size, bool(positive), int(child.generate_state(1)[0]), difficulty)


def _check_difficulty(difficulty: float) -> None:
    if not 0.0 <= difficulty <= 1.0:
        raise ValueError(f"difficulty must be in [0, 1] (0 = obvious, 1 = subtle), got {difficulty}")


def _checked_shape(size: int, shape: tuple[int, int] | None) -> tuple[int, int]:
    rows, columns = (size, size) if shape is None else shape
    if not (_MIN_SIDE <= rows <= _MAX_SIDE and _MIN_SIDE <= columns <= _MAX_SIDE):
        raise ValueError(
            f"phantom size must be {_MIN_SIDE}..{_MAX_SIDE} pixels per side (smaller cannot resolve ribs and the "
            f"pleural line), got {(rows, columns)}"
        )
    return int(rows), int(columns)


def _pneumothorax_region(lung: Lung, rng: np.random.Generator, difficulty: float) -> tuple[np.ndarray, np.ndarray]:
    """The pleural air: lung within a site-dependent depth of the chest wall, tapering to nothing at its ends.

    Returns the mask and, for every pixel, its distance in pixels beyond the pleural line (negative inside the
    air), which places the visceral pleura and the collapsed lung edge.
    """
    height, width = lung.mask.shape
    y = ((np.arange(height) + 0.5) / height)[:, None]
    x = ((np.arange(width) + 0.5) / width)[None, :]
    outward = 1.0 if lung.side == "left" else -1.0
    angle = np.arctan2((lung.center[0] - y) / lung.half_axes[0], outward * (x - lung.center[1]) / lung.half_axes[1])
    site_center, site_half_width = _SITES[("apical", "lateral")[rng.integers(2)]]
    site_center += rng.normal(0.0, 0.1)
    taper = np.cos(np.clip((angle - site_center) / site_half_width, -1.0, 1.0) * np.pi / 2)
    # A slow wobble keeps the pleural line from being a perfect parallel of the chest wall.
    wobble = 1.0 + 0.15 * np.sin(3.0 * angle + rng.uniform(0, 2 * np.pi))
    lung_width_px = lung.half_axes[1] * width
    depth_px = max(lung_width_px * (0.55 - 0.4 * difficulty) * rng.uniform(0.85, 1.15), 3.0) * taper * wobble
    # Measure depth from the apex, lateral wall and diaphragm only: air does not collect along the mediastinum here.
    medially_open = np.logical_or.accumulate(lung.mask[:, :: int(-outward)], axis=1)[:, :: int(-outward)]
    wall_distance_px = ndimage.distance_transform_edt(medially_open)
    mask = lung.mask & (wall_distance_px < depth_px)
    edge_distance_px = np.where((depth_px > 0.5) & lung.mask, wall_distance_px - depth_px, np.inf)
    return mask, edge_distance_px


def _draw_pneumothorax(
    image: np.ndarray,
    vessels: np.ndarray,
    mask: np.ndarray,
    edge_distance_px: np.ndarray,
    difficulty: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Clear the lung markings from the air, darken it, and draw the pleural line over a denser collapsed edge."""
    scale = min(mask.shape) / 256.0
    contrast = (1.0 - 0.75 * difficulty) * rng.uniform(0.85, 1.15)
    air = ndimage.gaussian_filter(mask.astype(np.float32), 0.6 * scale)
    outside = np.clip(edge_distance_px, 0.0, None)
    line_width_px = max(0.7 * scale, 0.6)
    pleural_line = np.exp(-((edge_distance_px / line_width_px) ** 2))
    collapsed_edge = np.exp(-outside / (4.0 * scale)) * (edge_distance_px > 0)
    return (
        image
        - _VESSEL_CONTRAST * vessels * air
        - 0.09 * contrast * air
        + 0.16 * contrast * pleural_line
        + 0.05 * contrast * collapsed_edge
    )


def _add_noise(image: np.ndarray, difficulty: float, rng: np.random.Generator) -> np.ndarray:
    """Quantum noise, slow exposure non-uniformity and a random film gamma, then clip to [0, 1]."""
    quantum = rng.normal(0.0, 0.008 + 0.025 * difficulty, image.shape)
    coarse = rng.normal(0.0, 0.025, (6, 6))
    exposure = ndimage.zoom(coarse, np.divide(image.shape, coarse.shape), order=3, mode="nearest")
    noisy = np.clip(image + quantum + exposure[: image.shape[0], : image.shape[1]], 0.0, 1.0)
    return (noisy ** rng.uniform(0.85, 1.15)).astype(np.float32)
