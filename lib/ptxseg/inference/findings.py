"""What a radiologist reads off a pneumothorax mask: its area and the patient side it lies on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["MaskFindings", "describe_mask", "patient_right_is_image_left"]

# A side counts in "both" only when it holds at least this share of the total area, so a few stray pixels
# across the midline do not turn a right pneumothorax into a bilateral one.
BILATERAL_MIN_SHARE = 0.1


@dataclass(frozen=True)
class MaskFindings:
    """Area (pixels and cm2) and patient side ('left', 'right', 'both' or 'none') of a mask."""

    area_px: int
    area_cm2: float
    side: str


def patient_right_is_image_left(patient_orientation: object = None) -> bool:
    r"""Whether the patient's right lies on the image's left, from DICOM PatientOrientation (0020,0020).

    The first value names the patient direction of increasing column index: 'L' (the radiographic convention
    for PA and AP views, and the assumption when the tag is absent) puts the patient's right on the image's
    left; 'R' means the image is displayed mirrored. Accepts a list, a pydicom MultiValue or the raw string.

    Example:
        >>> patient_right_is_image_left(["R", "F"]), patient_right_is_image_left("L\\F")
        (False, True)
    """
    if isinstance(patient_orientation, str):  # the raw DICOM form, values separated by a backslash
        patient_orientation = patient_orientation.split("\\")
    if isinstance(patient_orientation, Sequence) and patient_orientation:  # list, tuple or pydicom MultiValue
        return not str(patient_orientation[0]).strip().upper().startswith("R")
    return True


def describe_mask(mask: np.ndarray, spacing_mm: tuple[float, float], right_on_image_left: bool = True) -> MaskFindings:
    """Measure a boolean mask on its image's grid.

    Args:
        mask: 2-D boolean mask, rows x columns as displayed.
        spacing_mm: (row_mm, col_mm) pixel spacing of the image.
        right_on_image_left: see :func:`patient_right_is_image_left`.

    Example:
        >>> m = np.zeros((10, 10), bool); m[2:4, 1:3] = True
        >>> describe_mask(m, (1.0, 1.0))
        MaskFindings(area_px=4, area_cm2=0.04, side='right')
    """
    if mask.ndim != 2:
        raise ValueError(f"expected a 2-D mask, got shape {mask.shape}")
    area_px = int(np.count_nonzero(mask))
    area_cm2 = area_px * float(spacing_mm[0]) * float(spacing_mm[1]) / 100.0
    if area_px == 0:
        return MaskFindings(0, 0.0, "none")
    middle = mask.shape[1] / 2.0
    columns = np.nonzero(mask)[1] + 0.5
    image_left_px = int(np.count_nonzero(columns < middle))
    image_right_px = area_px - image_left_px
    # Each share divided out on its own: a complement (1 - 0.9 < 0.1 in floating point) would favour one side.
    if min(image_left_px, image_right_px) / area_px >= BILATERAL_MIN_SHARE:
        side = "both"
    else:
        image_side_is_left = image_left_px > image_right_px
        side = "right" if image_side_is_left == right_on_image_left else "left"
    return MaskFindings(area_px, round(area_cm2, 4), side)
