"""Synthetic chest X-rays: seeded, in range, and with a lucent pneumothorax exactly where the mask says."""

import numpy as np
import pytest
from scipy import ndimage

from ptxseg.phantom.synthetic import make_dataset, make_phantom


def test_same_seed_gives_identical_phantom_and_other_seed_differs():
    first = make_phantom(96, seed=7)
    again = make_phantom(96, seed=7)
    other = make_phantom(96, seed=8)
    np.testing.assert_array_equal(first.image, again.image)
    np.testing.assert_array_equal(first.mask, again.mask)
    assert first.side == again.side
    assert not np.array_equal(first.image, other.image)


def test_positive_and_negative_of_one_seed_differ_only_near_the_pneumothorax():
    positive = make_phantom(128, positive=True, seed=4, difficulty=0.0)
    negative = make_phantom(128, positive=False, seed=4, difficulty=0.0)
    changed = np.abs(positive.image - negative.image) > 1e-6
    near_mask = ndimage.binary_dilation(positive.mask, iterations=12)
    assert changed.any()
    assert not (changed & ~near_mask).any()


@pytest.mark.parametrize("difficulty", [0.0, 0.5, 1.0])
def test_image_is_float32_in_unit_range_and_uses_the_range(difficulty):
    image = make_phantom(96, seed=1, difficulty=difficulty).image
    assert image.dtype == np.float32
    assert image.min() >= 0.0 and image.max() <= 1.0
    # A radiograph with black air around the body and bright bone, not a flat grey field.
    assert image.min() < 0.1 and image.max() > 0.6


@pytest.mark.parametrize("seed", range(6))
def test_mask_is_non_empty_exactly_when_positive(seed):
    positive = make_phantom(64, positive=True, seed=seed, difficulty=1.0)
    negative = make_phantom(64, positive=False, seed=seed)
    assert positive.mask.dtype == bool and positive.mask.any() and positive.side in ("left", "right")
    assert not negative.mask.any() and negative.side is None


@pytest.mark.parametrize("seed", range(8))
def test_patient_side_is_the_opposite_image_half_as_in_a_pa_view(seed):
    phantom = make_phantom(96, seed=seed)
    centroid_column = np.nonzero(phantom.mask)[1].mean()
    assert (centroid_column < 48) == (phantom.side == "right")


@pytest.mark.parametrize("side", ["right", "left"])
def test_requested_side_is_honoured(side):
    phantom = make_phantom(96, seed=0, side=side)
    columns = np.nonzero(phantom.mask)[1]
    assert phantom.side == side
    assert (columns < 48).all() if side == "right" else (columns >= 48).all()


@pytest.mark.parametrize(("seed", "difficulty"), [(0, 0.0), (1, 0.5), (2, 0.5), (3, 1.0)])
def test_pneumothorax_is_darker_than_the_collapsed_lung_edge_around_it(seed, difficulty):
    phantom = make_phantom(128, seed=seed, difficulty=difficulty)
    band = ndimage.binary_dilation(phantom.mask, iterations=3) & ~phantom.mask
    inside = phantom.image[phantom.mask].mean()
    edge = phantom.image[band].mean()
    assert inside < edge - 0.02


def test_easier_pneumothorax_is_larger_and_more_lucent():
    easy = make_phantom(128, positive=True, seed=5, difficulty=0.0)
    hard = make_phantom(128, positive=True, seed=5, difficulty=1.0)
    clear = make_phantom(128, positive=False, seed=5, difficulty=0.0)
    assert easy.mask.sum() > 2 * hard.mask.sum()
    # The easy air is darker than the same pixels of the same chest without the pneumothorax.
    assert easy.image[easy.mask].mean() < clear.image[easy.mask].mean() - 0.05


def test_pneumothorax_lies_in_the_upper_or_lateral_lung():
    for seed in range(6):
        rows, columns = np.nonzero(make_phantom(128, seed=seed).mask)
        apical = rows.mean() < 128 * 0.35
        lateral = abs(columns.mean() - 64) > 64 * 0.5
        assert apical or lateral, f"seed {seed}: centroid ({rows.mean():.0f}, {columns.mean():.0f})"


@pytest.mark.parametrize("shape", [(64, 64), (80, 120), (130, 90)])
def test_non_square_shapes(shape):
    phantom = make_phantom(shape=shape, seed=2)
    assert phantom.image.shape == shape and phantom.mask.shape == shape


def test_size_sets_a_square_image():
    assert make_phantom(72, seed=0).image.shape == (72, 72)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"size": 32}, "64..4096"),
        ({"shape": (100, 5000)}, "64..4096"),
        ({"difficulty": 1.5}, r"\[0, 1\]"),
        ({"side": "sinister"}, "'right', 'left'"),
        ({"positive": False, "side": "left"}, "negative"),
    ],
)
def test_bad_arguments_raise_value_error_saying_what_is_allowed(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_phantom(**kwargs)


def test_dataset_has_the_requested_count_and_positive_share_and_is_reproducible():
    phantoms = list(make_dataset(10, size=64, seed=3, positive_fraction=0.3))
    again = list(make_dataset(10, size=64, seed=3, positive_fraction=0.3))
    assert len(phantoms) == 10
    assert sum(p.mask.any() for p in phantoms) == 3
    assert all(np.array_equal(a.image, b.image) for a, b in zip(phantoms, again, strict=True))
    assert not np.array_equal(phantoms[0].image, phantoms[1].image)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"n": -1}, "non-negative"), ({"positive_fraction": 1.2}, "positive_fraction"), ({"size": 16}, "64..4096")],
)
def test_dataset_rejects_bad_arguments_at_the_call(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_dataset(**{"n": 4, "size": 64, **kwargs})


def test_512_phantom_is_fast():
    import time

    start = time.perf_counter()
    make_phantom(512, seed=0)
    assert time.perf_counter() - start < 1.0
