"""Letterbox fit to the model square and its inverse, for images and masks."""

import numpy as np
import pytest

from ptxseg.transforms.fit import FitInfo, fit_mask, fit_to_square, undo_fit, undo_fit_mask


def _dice(first: np.ndarray, second: np.ndarray) -> float:
    return 2.0 * np.count_nonzero(first & second) / (np.count_nonzero(first) + np.count_nonzero(second))


def _centroid(weights: np.ndarray) -> np.ndarray:
    """(row, column) centre of mass of a mask or an intensity image."""
    weights = weights.astype(np.float64)
    rows, cols = np.indices(weights.shape)
    return np.array([(rows * weights).sum(), (cols * weights).sum()]) / weights.sum()


@pytest.mark.parametrize(
    ("shape", "resized", "pad_top", "pad_left"),
    [
        ((100, 50), (64, 32), 0, 16),
        ((50, 100), (32, 64), 16, 0),
        ((64, 64), (64, 64), 0, 0),
        ((30, 20), (64, 43), 0, 10),
    ],
)
def test_fit_to_square_letterboxes_with_symmetric_black_padding(shape, resized, pad_top, pad_left):
    fitted, info = fit_to_square(np.ones(shape, np.float32), 64)

    assert fitted.shape == (64, 64) and fitted.dtype == np.float32
    assert info == FitInfo(shape, resized, pad_top, pad_left, 64)
    inside = np.zeros((64, 64), bool)
    inside[pad_top : pad_top + resized[0], pad_left : pad_left + resized[1]] = True
    np.testing.assert_allclose(fitted[inside], 1.0, atol=1e-6)  # a constant image stays constant when resized
    assert not fitted[~inside].any()


# 96 x 40 scales by 64 / 96 to 64 x 27 (columns padded by 18); the block's centre (19.5, 9.5) moves to
# (20 * 64 / 96 - 0.5, 10 * 27 / 40 - 0.5 + 18), pixel centres mapping as (index + 0.5) * scale - 0.5.
@pytest.mark.parametrize(
    ("transposed", "fitted_centre"),
    [(False, (12.833, 24.25)), (True, (24.25, 12.833))],
    ids=["tall 96x40", "wide 40x96"],
)
def test_off_centre_block_lands_where_expected_and_comes_back(transposed, fitted_centre):
    image = np.zeros((96, 40), np.float32)
    image[10:30, 5:15] = 1.0  # upper left: a flip or a transpose moves it far away
    if transposed:
        image = image.T.copy()
    mask = image > 0.5

    fitted, info = fit_to_square(image, 64)

    assert (info.pad_top, info.pad_left) == ((18, 0) if transposed else (0, 18))
    np.testing.assert_allclose(_centroid(fitted), fitted_centre, atol=1.0)

    back = undo_fit_mask(fit_mask(mask, info), info)

    assert back.shape == image.shape and back.dtype == bool
    assert _dice(back, mask) >= 0.95
    np.testing.assert_allclose(_centroid(back), _centroid(mask), atol=1.0)


def test_undo_fit_returns_a_smooth_map_to_the_original_grid():
    ramp = np.tile(np.linspace(0.0, 1.0, 50, dtype=np.float32), (80, 1))  # brightens left to right
    fitted, info = fit_to_square(ramp, 64)

    back = undo_fit(fitted, info)

    assert back.shape == (80, 50) and back.dtype == np.float32
    np.testing.assert_allclose(back[:, 2:-2], ramp[:, 2:-2], atol=0.02)


def test_fit_and_undo_reject_wrong_shapes_with_the_expected_shape_in_the_message():
    _, info = fit_to_square(np.zeros((80, 50), np.float32), 64)

    with pytest.raises(ValueError, match="64x64"):
        undo_fit(np.zeros((80, 50), np.float32), info)
    with pytest.raises(ValueError, match="64x64"):
        undo_fit_mask(np.zeros((64, 32), bool), info)
    with pytest.raises(ValueError, match=r"\(80, 50\)"):
        fit_mask(np.zeros((50, 80), bool), info)
    with pytest.raises(ValueError, match="2-D"):
        fit_to_square(np.zeros((1, 80, 50), np.float32), 64)
    with pytest.raises(ValueError, match="positive"):
        fit_to_square(np.zeros((80, 50), np.float32), 0)
