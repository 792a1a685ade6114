"""Mask findings: area in pixels and cm2, and the patient side under the radiographic left-right convention."""

import numpy as np
import pytest
from pydicom.multival import MultiValue

from ptxseg.inference.findings import MaskFindings, describe_mask, patient_right_is_image_left


def _mask_with_columns(left_px: int, right_px: int, width: int = 100) -> np.ndarray:
    """One row with ``left_px`` pixels at the image's left edge and ``right_px`` at its right edge."""
    mask = np.zeros((1, width), bool)
    mask[0, :left_px] = True
    mask[0, width - right_px :] = True
    return mask


def test_area_in_cm2_uses_both_spacings():
    mask = np.zeros((20, 30), bool)
    mask[2:10, 3:8] = True  # 8 x 5 = 40 pixels

    findings = describe_mask(mask, (0.5, 0.25))

    assert findings == MaskFindings(area_px=40, area_cm2=40 * 0.5 * 0.25 / 100, side="right")
    assert findings.area_cm2 == 0.05


def test_empty_mask_has_no_side():
    assert describe_mask(np.zeros((8, 8), bool), (0.2, 0.2)) == MaskFindings(0, 0.0, "none")


@pytest.mark.parametrize(
    ("left_px", "right_px", "side"),
    [
        (20, 0, "right"),  # image left = patient right on a PA film
        (0, 20, "left"),
        (10, 10, "both"),
        (9, 1, "both"),  # exactly the 10 % share on the image right counts
        (1, 9, "both"),  # and the same share on the image left
        (28, 2, "right"),  # a few stray pixels across the midline do not make it bilateral
        (2, 28, "left"),
    ],
)
def test_side_under_the_pa_convention(left_px, right_px, side):
    assert describe_mask(_mask_with_columns(left_px, right_px), (1.0, 1.0)).side == side


def test_mirrored_display_swaps_the_patient_side():
    mask = _mask_with_columns(20, 0)

    assert describe_mask(mask, (1.0, 1.0), right_on_image_left=True).side == "right"
    assert describe_mask(mask, (1.0, 1.0), right_on_image_left=False).side == "left"
    assert describe_mask(_mask_with_columns(10, 10), (1.0, 1.0), right_on_image_left=False).side == "both"


def test_side_is_decided_by_pixel_centres_about_the_middle_column():
    mask = np.zeros((4, 10), bool)
    mask[:, 4] = True  # centre 4.5 < 5: the image's left half

    assert describe_mask(mask, (1.0, 1.0)).side == "right"
    assert describe_mask(mask[:, ::-1], (1.0, 1.0)).side == "left"


@pytest.mark.parametrize(
    ("orientation", "expected"),
    [
        (None, True),  # tag absent: the radiographic convention
        (["L", "F"], True),
        (("L", "H"), True),
        (["R", "F"], False),  # columns run to the patient's right: the image is mirrored
        (["r", "f"], False),
        (MultiValue(str, ["R", "F"]), False),  # what pydicom returns for the tag
        ("R\\F", False),  # the raw DICOM string
        ("L\\F", True),
        ([], True),
    ],
)
def test_patient_orientation_mirroring(orientation, expected):
    assert patient_right_is_image_left(orientation) is expected


def test_orientation_r_f_reports_an_image_left_mask_as_the_patient_left():
    mask = _mask_with_columns(15, 0)

    assert describe_mask(mask, (1.0, 1.0), patient_right_is_image_left(["R", "F"])).side == "left"
    assert describe_mask(mask, (1.0, 1.0), patient_right_is_image_left(["L", "F"])).side == "right"


def test_describe_mask_rejects_a_channel_axis():
    with pytest.raises(ValueError, match="2-D"):
        describe_mask(np.zeros((1, 8, 8), bool), (1.0, 1.0))
