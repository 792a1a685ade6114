"""One loader for every kind: each file becomes a Predictor with its stored (or the given) recipe options."""

import pytest

from ptxseg.inference.loading import load_predictor
from ptxseg.inference.two_stage import TwoStagePredictor
from ptxseg.io.reader import read_cxr
from ptxseg.io.writers import quantize, write_png
from ptxseg.phantom.synthetic import make_phantom
from tests.support.recipe_models import write_small_bundle
from tests.support.small_model import write_small_checkpoint


@pytest.fixture(scope="module")
def chest(tmp_path_factory):
    folder = tmp_path_factory.mktemp("chest")
    return read_cxr(write_png(quantize(make_phantom(80, seed=3).image[:80, :72]), folder / "chest.png"))


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    return {
        "unet": write_small_checkpoint(folder / "single.safetensors"),
        "ensemble": write_small_bundle(folder, "ensemble"),
        "two_stage": write_small_bundle(folder, "two_stage"),
    }


@pytest.mark.parametrize("kind", ["unet", "ensemble", "two_stage"])
def test_every_kind_predicts_a_mask_on_the_images_grid(models, chest, kind):
    path = models[kind]
    predictor = load_predictor(path, "cpu", "torch")
    prediction = predictor.predict(chest)
    assert prediction.mask.shape == chest.pixels.shape and 0.0 <= prediction.probability <= 1.0
    assert isinstance(predictor, TwoStagePredictor) == (kind == "two_stage")
    if kind == "ensemble":
        assert predictor.backend.name == "ensemble(2 x torch-cpu-fp32, hflip on)"
        assert predictor.postprocess.to_dict()["kind"] == "triplet"


def test_given_options_replace_the_stored_ones_and_are_checked(models):
    path = models["two_stage"]
    options = {"classifier_threshold": 0.2, "postprocess": {"kind": "threshold", "threshold": 0.7, "min_area": 3}}
    predictor = load_predictor(path, "cpu", "torch", options=options)
    assert predictor.classifier_threshold == 0.2 and predictor.postprocess.threshold == 0.7
    with pytest.raises(ValueError, match="options are"):
        load_predictor(path, "cpu", "torch", options={"classifier_threshold": 0.2})
