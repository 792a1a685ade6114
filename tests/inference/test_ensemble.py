"""Probability averaging with flip-TTA: the mean of the members' probabilities, mirrored views mirrored back."""

import numpy as np
import pytest
from scipy.special import expit, logit

from ptxseg.inference.ensemble import EnsembleBackend
from ptxseg.inference.predictor import Predictor
from ptxseg.io.reader import read_cxr
from ptxseg.io.writers import quantize, write_png
from ptxseg.phantom.synthetic import make_phantom


def _left_half(batch):
    """A member that sees pneumothorax on the image's left half, whatever the image."""
    logits = np.full(batch.shape, -20.0, np.float32)
    logits[..., : batch.shape[-1] // 2] = 20.0
    return logits


def test_members_probabilities_are_averaged_not_their_logits():
    sure, unsure = (lambda b: np.full(b.shape, 8.0, np.float32)), (lambda b: np.zeros(b.shape, np.float32))
    out = EnsembleBackend([sure, unsure], hflip=False)(np.zeros((1, 1, 4, 4), np.float32))
    assert expit(out) == pytest.approx((expit(8.0) + 0.5) / 2, abs=1e-5)
    assert not np.allclose(expit(out), expit(4.0), atol=1e-3)  # the mean logit would say 0.982


def test_flip_tta_mirrors_the_mirrored_view_back():
    batch = np.zeros((2, 1, 4, 4), np.float32)
    plain = expit(EnsembleBackend([_left_half], hflip=False)(batch))
    flipped = expit(EnsembleBackend([_left_half], hflip=True)(batch))
    assert plain[..., :2] == pytest.approx(1.0, abs=1e-5) and plain[..., 2:] == pytest.approx(0.0, abs=1e-5)
    # Mirrored, the member still says "left"; mirrored back that is the right half: every pixel averages to 1/2.
    assert flipped == pytest.approx(0.5, abs=1e-5)


def test_a_unanimous_ensemble_stays_finite():
    out = EnsembleBackend([lambda b: np.full(b.shape, 80.0, np.float32)] * 3)(np.zeros((1, 1, 2, 2), np.float32))
    assert np.isfinite(out).all() and out.min() == pytest.approx(logit(1 - 1e-6), rel=1e-3)


def test_an_ensemble_predictor_returns_a_mask_on_the_images_grid(tmp_path):
    image = read_cxr(write_png(quantize(make_phantom(96, seed=1).image[:90, :70]), tmp_path / "chest.png"))
    predictor = Predictor(EnsembleBackend([_left_half, _left_half], hflip=False), image_size=64)
    prediction = predictor.predict(image)
    assert prediction.mask.shape == image.pixels.shape and prediction.mask.any() and not prediction.mask.all()
    assert predictor.backend.name == "ensemble(2 x function, hflip off)"
