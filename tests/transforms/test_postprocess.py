"""Post-processing on crafted probability maps whose right answer can be counted by hand."""

import numpy as np
import pytest

from ptxseg.transforms.postprocess import (
    ThresholdPostprocess,
    TripletPostprocess,
    pneumothorax_score,
    postprocess_from_dict,
    remove_small_components,
)


def _two_blobs() -> np.ndarray:
    """6x6 map: a 1-pixel blob at (0, 0) with p=0.9, a 2x2 blob at rows/cols 3-4 with p=0.8, background 0.1.

    Pixel (1, 1) has p=0.6: diagonal to (0, 0), so with 8-connectivity it joins the single pixel (2 pixels).
    """
    prob = np.full((6, 6), 0.1)
    prob[0, 0] = 0.9
    prob[1, 1] = 0.6
    prob[3:5, 3:5] = 0.8
    return prob


def test_threshold_is_strict_and_keeps_everything_without_min_area():
    prob = _two_blobs()
    mask = ThresholdPostprocess(threshold=0.6)(prob)
    # 0.6 is not > 0.6: only (0, 0) and the 2x2 blob remain = 5 pixels.
    assert mask.dtype == bool
    assert mask.sum() == 5
    assert not mask[1, 1]
    assert ThresholdPostprocess(threshold=0.5)(prob).sum() == 6


def test_component_filter_uses_eight_connectivity():
    prob = _two_blobs()
    # Components above 0.5: {(0,0),(1,1)} (diagonal, 2 px) and the 2x2 blob (4 px).
    kept_two = ThresholdPostprocess(threshold=0.5, min_area=2)(prob)
    assert kept_two.sum() == 6  # with 4-connectivity the diagonal pair would be two 1-px components and vanish
    kept_three = ThresholdPostprocess(threshold=0.5, min_area=3)(prob)
    assert kept_three.sum() == 4
    assert kept_three[3:5, 3:5].all()
    assert ThresholdPostprocess(threshold=0.5, min_area=5)(prob).sum() == 0


def test_remove_small_components_does_not_modify_input():
    mask = np.zeros((4, 4), bool)
    mask[0, 0] = True
    result = remove_small_components(mask, 2)
    assert result.sum() == 0
    assert mask[0, 0]


def test_triplet_decides_whether_with_top_and_where_with_bottom():
    prob = _two_blobs()
    # Above 0.85: one pixel. min_area 1 -> mask = prob > 0.5 = 6 pixels; min_area 2 -> empty.
    assert TripletPostprocess(top_threshold=0.85, min_area=1, bottom_threshold=0.5)(prob).sum() == 6
    assert TripletPostprocess(top_threshold=0.85, min_area=2, bottom_threshold=0.5)(prob).sum() == 0
    # Above 0.75: 5 pixels >= 5 -> everything above 0.05 = all 36 pixels.
    assert TripletPostprocess(top_threshold=0.75, min_area=5, bottom_threshold=0.05)(prob).sum() == 36


@pytest.mark.parametrize(
    "step",
    [
        ThresholdPostprocess(threshold=0.3, min_area=7),
        TripletPostprocess(top_threshold=0.7, min_area=9, bottom_threshold=0.2),
    ],
)
def test_to_dict_round_trip(step):
    config = step.to_dict()
    assert config["kind"] in {"threshold", "triplet"}
    assert postprocess_from_dict(config) == step


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"kind": "magic"}, "unknown post-processing kind"),
        ({"threshold": 0.5}, "unknown post-processing kind"),
        ({"kind": "threshold", "treshold": 0.5}, "unknown keys"),
        ({"kind": "triplet", "top_threshold": 0.7}, "needs"),
        ({"kind": "threshold", "threshold": 1.5}, r"\[0, 1\]"),
        ({"kind": "threshold", "min_area": -1}, "min_area"),
        ({"kind": "threshold", "min_area": 2.5}, "min_area"),
        ({"kind": "triplet", "top_threshold": 0.3, "min_area": 1, "bottom_threshold": 0.6}, "must not exceed"),
    ],
)
def test_bad_configs_are_rejected(config, message):
    with pytest.raises(ValueError, match=message):
        postprocess_from_dict(config)


def test_non_2d_map_is_rejected():
    with pytest.raises(ValueError, match="2-D"):
        ThresholdPostprocess()(np.zeros((1, 4, 4)))


def test_score_is_mean_of_top_tenth_percent():
    prob = np.zeros((100, 100))  # 10 000 pixels -> k = 10
    prob[0, 0] = 1.0
    assert pneumothorax_score(prob) == pytest.approx(0.1)  # one hot pixel counts for a tenth
    prob[1, :10] = 0.8
    # Top 10: 1.0 and nine of the 0.8s -> (1.0 + 9 * 0.8) / 10.
    assert pneumothorax_score(prob) == pytest.approx(0.82)


def test_score_of_small_map_is_its_maximum():
    prob = np.array([[0.2, 0.7], [0.1, 0.3]])  # 4 * 0.001 < 1 -> k = 1
    assert pneumothorax_score(prob) == pytest.approx(0.7)
    assert pneumothorax_score(prob, top_fraction=0.5) == pytest.approx(0.5)


def test_score_never_falls_when_a_probability_rises():
    rng = np.random.default_rng(0)
    prob = rng.random((64, 64))
    before = pneumothorax_score(prob)
    prob[10, 10] = min(1.0, prob[10, 10] + 0.5)
    assert pneumothorax_score(prob) >= before
    assert 0.0 <= before <= 1.0


def test_score_rejects_empty_map_and_bad_fraction():
    with pytest.raises(ValueError, match="empty"):
        pneumothorax_score(np.zeros((0, 0)))
    with pytest.raises(ValueError, match="top_fraction"):
        pneumothorax_score(np.zeros((4, 4)), top_fraction=0)
