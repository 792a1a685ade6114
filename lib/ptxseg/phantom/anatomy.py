"""A normal synthetic chest radiograph, built as separate layers so a pneumothorax can be cut into it.

Coordinates are normalised: ``y`` runs 0..1 down the rows, ``x`` 0..1 across the columns. The image is displayed
as a PA radiograph, so the patient's right lung lies at ``x < 0.5``. Brightness follows X-ray attenuation: air is
dark, soft tissue grey, bone bright.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ptxseg.phantom.vessels import vessel_tree

__all__ = ["ChestLayers", "Lung", "render_chest"]

# Image-column side of each lung: the patient's right lung is on the image's left in a PA view.
_IMAGE_SIDE = {"right": -1.0, "left": 1.0}


@dataclass(frozen=True)
class Lung:
    """One lung field: its pixel mask and the normalised ellipse it was cut from.

    Attributes:
        side: 'right' or 'left' in patient terms.
        mask: bool (rows, columns), True inside the aerated lung.
        center: (y, x) normalised centre of the lung's outline ellipse.
        half_axes: (half height, half width) normalised.
    """

    side: str
    mask: np.ndarray
    center: tuple[float, float]
    half_axes: tuple[float, float]


@dataclass(frozen=True)
class ChestLayers:
    """The parts of a synthetic chest radiograph that a pneumothorax changes, kept apart.

    Attributes:
        base: float32 brightness of everything except the lung markings (body, lungs, heart, bones).
        vessels: float32 density of the pulmonary vessels, already confined to the lungs (about 0..1).
        lungs: the right and left lung, in that order.
    """

    base: np.ndarray
    vessels: np.ndarray
    lungs: tuple[Lung, Lung]


def render_chest(shape: tuple[int, int], rng: np.random.Generator) -> ChestLayers:
    """Render a normal chest radiograph with randomised anatomy.

    Args:
        shape: (rows, columns), each at least 64.
        rng: random generator (the only source of randomness).

    Returns:
        The layers of the radiograph; ``base + vessels * contrast`` is a normal chest.

    Example:
        >>> layers = render_chest((128, 128), np.random.default_rng(0))
        >>> [lung.side for lung in layers.lungs], bool(layers.lungs[0].mask[64, 38])
        (['right', 'left'], True)
    """
    height, width = shape
    y = ((np.arange(height) + 0.5) / height)[:, None]
    x = ((np.arange(width) + 0.5) / width)[None, :]
    blur = 0.003 * min(shape)

    lateral = np.abs(x - 0.5)
    # Shoulders slope down from the neck; below them the trunk fills the film almost to its edges.
    shoulder_line = 0.07 + 0.7 * np.clip(lateral - 0.1, 0.0, None) ** 1.6 + rng.normal(0, 0.01)
    trunk_half_width = 0.44 + rng.normal(0, 0.01) + 0.035 * np.sin(np.pi * np.clip((y - 0.15) / 0.9, 0.0, 1.0))
    body = ((y > shoulder_line) & (lateral < trunk_half_width)) | (lateral < 0.1)
    thickness = np.sqrt(np.clip(1.0 - (lateral / trunk_half_width) ** 2, 0.0, 1.0))
    heart = _ellipse(y, x, (0.67 + rng.normal(0, 0.01), 0.55 + rng.normal(0, 0.01)), (0.13, 0.15 + rng.normal(0, 0.01)))
    mediastinum_half_width = 0.06 + 0.03 * np.clip((y - 0.3) / 0.3, 0.0, 1.0)
    mediastinum = (lateral < mediastinum_half_width) & (y > 0.08)
    aortic_knob = _ellipse(y, x, (0.33, 0.56), (0.035, 0.035)) > 0
    central = (heart > 0) | mediastinum | aortic_knob

    lungs = tuple(_lung(side, y, x, body & ~central, rng) for side in ("right", "left"))
    lung_field = sum(_soft(lung.mask, blur) for lung in lungs)

    central_soft = _soft(central, 2 * blur)
    # Heart, mediastinum and abdomen are all soft tissue: only the air of the lungs outlines them.
    base = 0.03 + 0.62 * _soft(body, blur) * (0.7 + 0.3 * thickness)
    base -= lung_field * (0.36 + 0.05 * np.clip((0.5 - y) / 0.4, 0.0, 1.0))
    base -= 0.06 * _soft(_trachea(y, x), blur)
    base -= 0.1 * _soft(_ellipse(y, x, (0.86, 0.64), (0.035, 0.06)) > 0, 2 * blur)  # gastric air bubble
    # Bone over the dense mediastinum shows less: the film's response flattens at high exposure.
    base += _bones(y, x, shape, rng, blur) * _soft(body, blur) * (1.0 - 0.6 * central_soft)

    scale = min(shape) / 256.0
    vessels = np.zeros(shape, dtype=np.float32)
    for lung in lungs:
        hilum = (0.43 + rng.normal(0, 0.01), 0.5 + _IMAGE_SIDE[lung.side] * 0.115)
        outward = 0.0 if _IMAGE_SIDE[lung.side] > 0 else np.pi
        hilum_px = (hilum[0] * height, hilum[1] * width)
        vessels += vessel_tree(shape, hilum_px, outward, rng, trunk_length_px=20 * scale, trunk_width_px=3.0 * scale)
        base += 0.05 * _soft(_ellipse(y, x, hilum, (0.05, 0.03)) > 0, 6 * blur)  # hilar vessels and nodes
    vessels *= lung_field
    return ChestLayers(base=base.astype(np.float32), vessels=vessels.astype(np.float32), lungs=lungs)


def _lung(side: str, y: np.ndarray, x: np.ndarray, allowed: np.ndarray, rng: np.random.Generator) -> Lung:
    """Cut one lung from ``allowed``: an outline rounded at the apex and widest at the base, above its diaphragm."""
    outward = _IMAGE_SIDE[side]
    center = (0.47 + rng.normal(0, 0.01), 0.5 + outward * (0.21 + rng.normal(0, 0.008)))
    half_axes = (0.34 + rng.normal(0, 0.015), 0.155 + rng.normal(0, 0.008))
    top = center[0] - half_axes[0]
    depth = np.clip((y - top) / (1.5 * half_axes[0]), 0.0, 1.0)
    half_width = half_axes[1] * np.sqrt(1.0 - (1.0 - depth) ** 2)
    outline = (np.abs(x - center[1]) < half_width) & (y > top)
    # The patient's left hemidiaphragm sits lower, under the heart.
    dome_base = 0.83 + (0.02 if side == "left" else 0.0) + rng.normal(0, 0.01)
    dome = dome_base - 0.1 * np.clip(1.0 - ((x - center[1] + 0.03 * outward) / (1.1 * half_axes[1])) ** 2, 0, 1)
    mask = outline & (y < dome) & allowed
    return Lung(side=side, mask=mask, center=center, half_axes=half_axes)


def _bones(y: np.ndarray, x: np.ndarray, shape: tuple[int, int], rng: np.random.Generator, blur: float) -> np.ndarray:
    """Posterior and anterior ribs, clavicles and spine, as added brightness."""
    lateral = np.abs(x - 0.5)
    cage = _soft(_ellipse(y, x, (0.5, 0.5), (0.4, 0.43)) > 0, 4 * blur) * (lateral > 0.025)
    spacing = 0.068 + rng.normal(0, 0.003)
    # Posterior ribs leave the spine, rise a little, then sweep down along the lateral chest wall.
    posterior = _bands(y + 0.3 * lateral - 1.8 * lateral**2, spacing, 0.36, rng.uniform(0, 1), shape, blur)
    # Anterior ribs run down and inwards from the lateral wall and fade where they turn into cartilage.
    anterior = _bands(y + 0.4 * lateral, spacing * 1.2, 0.4, rng.uniform(0, 1), shape, blur) * (lateral > 0.12)
    ribs = cage * (0.075 * posterior + 0.035 * anterior)

    clavicle_y = 0.21 - 0.42 * (lateral - 0.04) + 0.5 * (lateral - 0.04) ** 2 + rng.normal(0, 0.008)
    clavicles = (np.abs(y - clavicle_y) < 0.011) & (lateral > 0.035) & (lateral < 0.36)
    spine = (lateral < 0.032) * (0.7 + 0.3 * (np.cos(2 * np.pi * y / 0.055) > -0.6))
    return ribs + 0.13 * _soft(clavicles, blur) + 0.045 * _soft(spine > 0, blur) * spine


def _bands(coordinate, spacing: float, duty: float, phase: float, shape: tuple[int, int], blur: float) -> np.ndarray:
    """Parallel bone bands along ``coordinate`` with a bright cortical rim, antialiased over ``blur`` pixels."""
    offset = (coordinate / spacing + phase) % 1.0 - 0.5
    distance_px = (np.abs(offset) - duty / 2.0) * spacing * shape[0]
    inside = 1.0 / (1.0 + np.exp(np.clip(distance_px / max(blur, 0.5), -30, 30)))
    rim = np.exp(-((distance_px / max(1.5 * blur, 0.7)) ** 2))
    return inside * 0.8 + rim * 0.4


def _trachea(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The air column of the trachea down to the carina, and the two main bronchi."""
    trachea = (np.abs(x - 0.5) < 0.017) & (y > 0.05) & (y < 0.4)
    below = y - 0.4
    bronchi = (below > 0) & (below < 0.07) & (np.abs(np.abs(x - 0.5) - below * 0.9) < 0.012)
    return trachea | bronchi


def _ellipse(y: np.ndarray, x: np.ndarray, center: tuple[float, float], half_axes: tuple[float, float]) -> np.ndarray:
    """1 - normalised squared radius: positive inside the ellipse."""
    return _superellipse(y, x, center, half_axes, 2.0)


def _superellipse(y, x, center: tuple[float, float], half_axes: tuple[float, float], power: float) -> np.ndarray:
    """1 - normalised radius**power: positive inside, 1 at the centre; a higher power gives squarer shoulders."""
    return 1.0 - (np.abs(y - center[0]) / half_axes[0]) ** power - (np.abs(x - center[1]) / half_axes[1]) ** power


def _soft(mask: np.ndarray, sigma: float) -> np.ndarray:
    """A boolean region as float with edges blurred over ``sigma`` pixels, as the X-ray focal spot blurs them."""
    return ndimage.gaussian_filter(np.asarray(mask, dtype=np.float32), sigma)
