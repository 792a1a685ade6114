"""Letterbox fit and its inverse, normalisation, and augmentations that keep image and label aligned."""

import numpy as np
import pytest
import torch

from ptxseg.training.augment import train_augmentations
from ptxseg.transforms.fit import FitInfo, fit_mask, fit_to_square, undo_fit, undo_fit_mask
from ptxseg.transforms.intensity import IMAGENET_GREY_MEAN, IMAGENET_GREY_STD, normalize


def _dice(first: np.ndarray, second: np.ndarray) -> float:
    return 2.0 * np.count_nonzero(first & second) / (np.count_nonzero(first) + np.count_nonzero(second))


def _centroid(weights: np.ndarray) -> np.ndarray:
    """(row, column) centre of mass of a mask or an intensity image."""
    weights = weights.astype(np.float64)
    rows, cols = np.indices(weights.shape)
    return np.array([(rows * weights).sum(), (cols * weights).sum()]) / weights.sum()


def _pair(image: np.ndarray) -> dict:
    return {"image": image[None].copy(), "label": (image > 0.5)[None].astype(np.float32)}


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


def test_normalize_gives_the_same_numbers_for_numpy_and_torch():
    pixels = np.array([[0.0, IMAGENET_GREY_MEAN, 1.0]], dtype=np.float64)

    as_numpy = normalize(pixels)
    as_torch = normalize(torch.from_numpy(pixels.astype(np.float32)))

    assert as_numpy.dtype == np.float32  # the model's dtype, whatever the input was
    assert isinstance(as_torch, torch.Tensor)
    expected = [[-IMAGENET_GREY_MEAN / IMAGENET_GREY_STD, 0.0, (1.0 - IMAGENET_GREY_MEAN) / IMAGENET_GREY_STD]]
    np.testing.assert_allclose(as_numpy, expected, atol=1e-6)
    np.testing.assert_allclose(as_torch.numpy(), as_numpy, atol=1e-6)


def _checkerboard() -> np.ndarray:
    rows, cols = np.indices((64, 64))
    image = ((rows // 16 + cols // 16) % 2 == 0).astype(np.float32)
    image[:, :6] = 0.0  # breaks the left-right symmetry, so a flip is visible
    return image


def test_every_augmentation_keeps_the_label_on_the_image():
    image = _checkerboard()
    augment = train_augmentations(64, flip_p=0.5, intensity_p=1.0, distortion_p=1.0, affine_p=1.0)
    augment.set_random_state(seed=7)

    outputs = [augment(_pair(image)) for _ in range(8)]

    for output, other in zip(outputs, outputs[1:] + outputs[:1], strict=True):
        augmented = np.asarray(output["image"])[0]
        label = np.asarray(output["label"])[0]
        assert augmented.shape == label.shape == (64, 64)
        assert set(np.unique(label)) <= {0.0, 1.0}  # nearest-neighbour labels stay binary
        assert np.mean((augmented > 0.5) == (label > 0.5)) >= 0.95
        # The check can fail: another draw's label does not fit this image.
        assert np.mean((augmented > 0.5) == (np.asarray(other["label"])[0] > 0.5)) < 0.8


def test_flip_happens_sometimes_and_moves_image_and_label_together():
    image = _checkerboard()
    augment = train_augmentations(64, flip_p=0.5, intensity_p=0.0, distortion_p=0.0, affine_p=0.0)
    augment.set_random_state(seed=1)

    kinds = []
    for _ in range(12):
        output = augment(_pair(image))
        augmented, label = np.asarray(output["image"])[0], np.asarray(output["label"])[0] > 0.5
        flipped = np.array_equal(augmented, image[:, ::-1])
        assert flipped or np.array_equal(augmented, image)
        assert np.array_equal(label, augmented > 0.5)
        kinds.append(flipped)

    assert 0 < sum(kinds) < len(kinds)


def test_a_fixed_random_state_repeats_the_same_augmentation():
    image = _checkerboard()
    first, second = (train_augmentations(64, intensity_p=1.0, distortion_p=1.0, affine_p=1.0) for _ in range(2))
    first.set_random_state(seed=3)
    second.set_random_state(seed=3)

    np.testing.assert_array_equal(np.asarray(first(_pair(image))["image"]), np.asarray(second(_pair(image))["image"]))
