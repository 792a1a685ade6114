"""Uncertainty for active learning: flip-TTA and MC-dropout disagreement, and the scores built on them."""

import numpy as np
import pytest
import torch

from ptxseg.image import CXRImage, Geometry
from ptxseg.inference.predictor import Predictor
from ptxseg.inference.scoring import score_images
from ptxseg.inference.uncertainty import DropoutSampler, FlipUncertainty, McDropoutUncertainty, disagreement
from ptxseg.model.checkpoint import load_model
from ptxseg.model.network import build_architecture
from ptxseg.phantom.synthetic import make_phantom
from ptxseg.transforms.fit import fit_to_square
from ptxseg.transforms.intensity import normalize
from tests.support.small_model import SMALL_MODEL_SIZE, write_small_checkpoint

SIZE = SMALL_MODEL_SIZE


@pytest.fixture(scope="module")
def dropout_checkpoint(tmp_path_factory):
    return write_small_checkpoint(tmp_path_factory.mktemp("mc") / "dropout.safetensors", dropout=0.3)


@pytest.fixture(scope="module")
def plain_checkpoint(tmp_path_factory):
    return write_small_checkpoint(tmp_path_factory.mktemp("plain") / "plain.safetensors")


def _fitted(count: int) -> np.ndarray:
    return np.stack([fit_to_square(make_phantom(SIZE, seed=seed).image, SIZE)[0] for seed in range(count)])


def _batch(count: int) -> np.ndarray:
    return normalize(_fitted(count))[:, None]


def test_disagreement_is_zero_for_equal_maps_and_near_one_for_disjoint_ones():
    empty = np.zeros((8, 8))
    left, right = empty.copy(), empty.copy()
    left[:, :4], right[:, 4:] = 1, 1
    assert disagreement(empty, empty) == 0 and disagreement(left, left) == 0
    assert disagreement(left, right) == pytest.approx(64 / 65)
    assert 0 < disagreement(left, left * 0.5) < disagreement(left, right)


def test_dropout_draws_differ_from_each_other_but_repeat_for_the_same_batch(dropout_checkpoint):
    model, _ = load_model(dropout_checkpoint)
    sampler = DropoutSampler(model, samples=4)
    state = torch.random.get_rng_state()
    draws = sampler(_batch(2))
    assert draws.shape == (4, 2, SIZE, SIZE) and 0 <= draws.min() and draws.max() <= 1
    assert not np.allclose(draws[0], draws[1])
    np.testing.assert_array_equal(draws, sampler(_batch(2)))
    assert torch.equal(state, torch.random.get_rng_state())  # the caller's random stream is untouched


def test_sampling_only_the_decoder_gives_the_draws_of_whole_forward_passes(dropout_checkpoint):
    decoder_only = DropoutSampler(load_model(dropout_checkpoint)[0], samples=3, seed=7)
    whole = DropoutSampler(load_model(dropout_checkpoint)[0], samples=3, seed=7, reuse_encoder=False)
    assert decoder_only.decoder_only and not whole.decoder_only
    np.testing.assert_allclose(decoder_only(_batch(2)), whole(_batch(2)), atol=1e-6)


def test_sampling_needs_dropout_and_two_samples(plain_checkpoint, dropout_checkpoint):
    with pytest.raises(ValueError, match="no dropout"):
        DropoutSampler(build_architecture("efficientnet-b0"), samples=4)
    with pytest.raises(ValueError, match="at least 2 samples"):
        DropoutSampler(load_model(dropout_checkpoint)[0], samples=1)
    with pytest.raises(ValueError, match=r"has none .*mc_samples 0"):
        McDropoutUncertainty.from_checkpoint(plain_checkpoint, samples=4)


def test_mc_dropout_scores_lie_in_the_unit_interval_and_grow_with_the_dropout_rate(tmp_path):
    fitted = _fitted(3)
    spreads = []
    for rate in (0.05, 0.5):
        path = write_small_checkpoint(tmp_path / f"dropout-{rate}.safetensors", dropout=rate)
        spreads.append(McDropoutUncertainty.from_checkpoint(path, samples=6)(fitted, maps=None))
    assert all(0 < spread <= 1 for spread in spreads[0] + spreads[1]), spreads
    assert np.mean(spreads[1]) > np.mean(spreads[0]), spreads


def test_scores_use_the_given_uncertainty_and_report_the_same_probability(dropout_checkpoint):
    predictor = Predictor.from_checkpoint(dropout_checkpoint, backend="torch")
    images = [CXRImage(make_phantom(SIZE, seed=seed).image, (1.0, 1.0), Geometry()) for seed in range(3)]
    flip = score_images(predictor, images)
    mc = score_images(predictor, images, McDropoutUncertainty.from_checkpoint(dropout_checkpoint, samples=4))
    fitted = _fitted(3)
    expected_flip = FlipUncertainty(predictor)(fitted, predictor.probability_maps(fitted))
    assert [score.uncertainty for score in flip] == pytest.approx(expected_flip)
    assert [score.probability for score in mc] == [score.probability for score in flip]
    assert [score.uncertainty for score in mc] != [score.uncertainty for score in flip]
