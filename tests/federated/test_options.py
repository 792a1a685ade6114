"""Bad job configs and bad round options are refused with a message that says how to fix them."""

import pytest

from ptxseg.federated.options import JobOptions, RoundOptions


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"sites": 2, "min_sites": 3}, "lower --min-sites"),
        ({"rounds": 0}, "rounds must be >= 1"),
        ({"privacy": "svt", "send": "weights"}, "use --send diff"),
        ({"privacy": "gaussian"}, "privacy must be one of none, percentile, svt"),
        ({"percentile": 120.0}, "percentile must lie in [0, 100]"),
        ({"gamma": 0.0}, "gamma must be > 0"),
        ({"svt_fraction": 1.0}, "svt_fraction must lie strictly between 0 and 1"),
        ({"round_timeout": -1}, "round_timeout must be >= 0"),
    ],
)
def test_a_bad_job_config_is_refused_clearly(values, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        JobOptions(**values)


def test_weights_may_be_sent_without_a_privacy_filter():
    assert JobOptions(privacy="none", send="weights").send == "weights"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"local_epochs": 0}, "local_epochs must be >= 1"),
        ({"image_size": 100}, "image_size"),
        ({"val_fraction": 1.0}, "val_fraction must lie strictly between 0 and 1"),
        ({"learning_rate": "0.1"}, "round option learning_rate='0.1' is not a float"),
        ({"local_epochs": True}, "is not a int"),
        ({"script": "rm -rf /"}, "unknown round option"),
    ],
)
def test_round_options_from_the_server_are_checked_at_the_site(values, message):
    with pytest.raises(ValueError, match=message):
        RoundOptions.from_dict(values)


def test_round_options_round_trip_through_what_the_server_sends():
    options = RoundOptions(local_epochs=3, image_size=64, max_steps_per_epoch=2)
    assert RoundOptions.from_dict(options.to_dict()) == options
