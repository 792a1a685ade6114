"""Branching pulmonary vessel trees for the synthetic chest X-rays of :mod:`ptxseg.phantom.synthetic`."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["vessel_tree"]

# Each generation is shorter and thinner than its parent, the way pulmonary arteries taper from hilum to periphery.
_LENGTH_RATIO = 0.74
_WIDTH_RATIO = 0.72
_POINT_STEP_PX = 0.5


def vessel_tree(
    shape: tuple[int, int],
    hilum_px: tuple[float, float],
    outward_angle: float,
    rng: np.random.Generator,
    trunk_length_px: float,
    trunk_width_px: float,
    trunks: int = 7,
    generations: int = 7,
) -> np.ndarray:
    """Render a random branching vessel tree growing from a hilum as a projected density map.

    Vessels are line segments that split in two at each generation; each is drawn as a blurred line whose peak
    density grows with its width, as a projected cylinder's does.

    Args:
        shape: (rows, columns) of the map.
        hilum_px: (row, column) where the trunks start.
        outward_angle: mean direction of the trunks in radians, image coordinates (0 = towards increasing
            columns, pi/2 = down the image).
        rng: random generator (the tree's only source of randomness).
        trunk_length_px: length of a first-generation segment in pixels.
        trunk_width_px: diameter of a first-generation segment in pixels.
        trunks: number of first-generation segments, fanned around ``outward_angle``.
        generations: number of bifurcation levels.

    Returns:
        float32 (rows, columns) density, about 1 at the centre of a trunk, 0 away from vessels.

    Example:
        >>> tree = vessel_tree((64, 64), (32.0, 20.0), np.pi, np.random.default_rng(0), 8.0, 2.0)
        >>> tree.shape, bool(tree.max() > 0)
        ((64, 64), True)
    """
    fan = np.linspace(-1.0, 1.0, trunks) * 1.9 + rng.normal(0.0, 0.12, trunks)
    angles = outward_angle + fan
    # Trunks leave from a spread-out hilum, not one point, or their overlap would draw a bright star.
    starts = np.asarray(hilum_px, dtype=np.float64) + rng.normal(0.0, trunk_width_px, (trunks, 2))
    # Upward trunks must reach the apex, which lies further from the hilum than the lateral wall.
    lengths = trunk_length_px * rng.uniform(0.8, 1.2, trunks) * (1.0 + 0.5 * np.abs(np.sin(angles)))
    widths = np.full(trunks, trunk_width_px) * rng.uniform(0.8, 1.2, trunks)
    segments = []
    for _ in range(generations):
        ends = starts + lengths[:, None] * np.stack([np.sin(angles), np.cos(angles)], axis=1)
        segments.append((starts, ends, widths))
        count = len(angles) * 2
        spread = rng.uniform(0.25, 0.6, count) * np.tile([-1.0, 1.0], len(angles))
        angles = np.repeat(angles, 2) + spread + rng.normal(0.0, 0.1, count)
        starts = np.repeat(ends, 2, axis=0)
        lengths = np.repeat(lengths, 2) * _LENGTH_RATIO * rng.uniform(0.75, 1.25, count)
        widths = np.repeat(widths, 2) * _WIDTH_RATIO
    return _render_segments(shape, segments, trunk_width_px)


def _render_segments(shape: tuple[int, int], segments: list, reference_width_px: float) -> np.ndarray:
    """Deposit points along every segment, then blur each width class with a Gaussian as wide as its vessels."""
    density = np.zeros(shape, dtype=np.float32)
    for starts, ends, widths in segments:
        # One generation has one width scale, so one blur per generation keeps rendering to a handful of filters.
        sigma = max(float(np.mean(widths)) / 2.0, 0.5)
        lengths = np.linalg.norm(ends - starts, axis=1)
        counts = np.maximum(np.ceil(lengths / _POINT_STEP_PX).astype(int), 1)
        owner = np.repeat(np.arange(len(counts)), counts)
        fraction = (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)) / counts[owner]
        points = starts[owner] + fraction[:, None] * (ends[owner] - starts[owner])
        rows, cols = np.round(points).astype(int).T
        inside = (rows >= 0) & (rows < shape[0]) & (cols >= 0) & (cols < shape[1])
        # Mass per unit length is the cross-section (pi/4 d^2); a Gaussian of sigma = d/2 carrying it peaks at
        # ~0.63 d, so 1.6 / reference makes a trunk peak near 1 and thinner vessels proportionally fainter.
        weight = (lengths[owner] / counts[owner]) * (np.pi / 4.0) * widths[owner] ** 2 * 1.6 / reference_width_px
        layer = np.zeros(shape, dtype=np.float32)
        np.add.at(layer, (rows[inside], cols[inside]), weight[inside].astype(np.float32))
        density += ndimage.gaussian_filter(layer, sigma)
    return density
