"""A recipe app's conf: its own keys parsed once, the rest as the main app's; a bad value is one clear line."""

import json

import pytest

from ptxseg.serving.check_conf import BAD_CONF_STATUS, main
from ptxseg.serving.recipe_settings import RecipeSettings
from tests.conftest import REPO_ROOT


def test_ensemble_defaults_are_b4_plus_two_with_flip_tta_and_the_winners_triplet():
    settings = RecipeSettings.from_conf("ensemble", {"image_size": "512"})
    assert settings.members == ("efficientnet-b4", "efficientnet-b2", "efficientnet-b0")
    assert settings.options == {
        "hflip": True,
        "postprocess": {"kind": "triplet", "top_threshold": 0.75, "min_area": 500, "bottom_threshold": 0.3},
    }


def test_thresholds_are_configurable():
    ensemble = RecipeSettings.from_conf("ensemble", {"top_threshold": "0.6", "min_area": "10", "hflip": "off"})
    assert ensemble.options["postprocess"]["top_threshold"] == 0.6 and ensemble.options["postprocess"]["min_area"] == 10
    assert ensemble.options["hflip"] is False
    two = RecipeSettings.from_conf("two_stage", {"classifier_threshold": "0.3", "threshold": "0.4", "epochs": "2"})
    assert two.options == {
        "classifier_threshold": 0.3,
        "postprocess": {"kind": "threshold", "threshold": 0.4, "min_area": 0},
    }
    assert two.serving.epochs == 2


@pytest.mark.parametrize(
    ("kind", "conf", "words"),
    [
        ("ensemble", {"members": "efficientnet-b0"}, "two or more encoders"),
        ("ensemble", {"members": "resnet50,efficientnet-b0"}, "unknown encoder(s) ['resnet50']"),
        ("ensemble", {"top_threshold": "0.2", "bottom_threshold": "0.5"}, "must not exceed top_threshold"),
        ("ensemble", {"classifier_threshold": "0.5"}, "unknown conf key(s) ['classifier_threshold']"),
        ("two_stage", {"classifier_threshold": "1.5"}, "classifier_threshold"),
        ("two_stage", {"mc_samples": "4"}, "flip-TTA"),
    ],
)
def test_a_bad_conf_exits_2_with_the_reason_in_one_line(capsys, kind, conf, words):
    with pytest.raises(ValueError, match="conf"):
        RecipeSettings.from_conf(kind, conf)
    assert main([str(REPO_ROOT / "sample-apps" / kind), json.dumps(conf)]) == BAD_CONF_STATUS
    error = capsys.readouterr().err
    assert words in error and error.count("\n") == 1
