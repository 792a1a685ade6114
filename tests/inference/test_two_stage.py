"""The two-stage gate: the classifier decides whether, the U-Net where; the image's probability is the classifier's."""

import numpy as np
import pytest

from ptxseg.inference.two_stage import TwoStagePredictor
from ptxseg.io.reader import read_cxr
from ptxseg.io.writers import quantize, write_png
from ptxseg.phantom.synthetic import make_phantom


def _sees_everywhere(batch):
    return np.full(batch.shape, 9.0, np.float32)


def _classifier(logit):
    return lambda batch: np.full(len(batch), logit, np.float32)


@pytest.fixture
def image(tmp_path):
    return read_cxr(write_png(quantize(make_phantom(96, seed=2).image[:80, :96]), tmp_path / "chest.png"))


def test_a_no_from_the_classifier_empties_the_mask_whatever_the_unet_sees(image):
    predictor = TwoStagePredictor(_classifier(-3.0), 0.5, _sees_everywhere, image_size=64)
    prediction = predictor.predict(image)
    assert not prediction.mask.any() and prediction.mask.shape == image.pixels.shape
    assert prediction.probability == pytest.approx(1 / (1 + np.exp(3.0)), rel=1e-4) and not prediction.flag


def test_a_yes_lets_the_unet_outline_and_flags_by_the_classifiers_probability(image):
    predictor = TwoStagePredictor(_classifier(2.0), 0.5, _sees_everywhere, image_size=64, triage_threshold=0.9)
    prediction = predictor.predict(image)
    assert prediction.mask.all() and prediction.probability == pytest.approx(0.8808, abs=1e-4)
    assert not prediction.flag  # 0.88 < the triage threshold 0.9: flagging follows the classifier, not the map


def test_the_gate_is_what_tuning_and_uncertainty_see():
    predictor = TwoStagePredictor(_classifier(-3.0), 0.5, _sees_everywhere, image_size=64)
    assert predictor.probability_maps(np.zeros((2, 64, 64), np.float32)).max() == 0.0


def test_a_gate_outside_0_1_is_refused():
    with pytest.raises(ValueError, match="classifier_threshold"):
        TwoStagePredictor(_classifier(0.0), 1.0, _sees_everywhere, image_size=64)
