"""build_model: the B4 U-Net by default, random weights said loudly, bad arguments refused listing valid ones."""

import logging

import pytest
import torch

from ptxseg.model.factory import build_model
from ptxseg.model.network import (
    SUPPORTED_ENCODERS,
    build_architecture,
    describe_weights,
)


def test_b4_forward_keeps_input_size_and_warns_it_is_random(caplog):
    with caplog.at_level(logging.WARNING, logger="ptxseg.model.factory"):
        model = build_model()
    assert model.backbone == "efficientnet-b4"
    assert describe_weights(model) == "random"
    assert "RANDOM" in caplog.text and "download_imagenet_weights" in caplog.text
    with torch.no_grad():
        logits = model.eval()(torch.rand(1, 1, 64, 64))
    assert logits.shape == (1, 1, 64, 64)
    assert torch.isfinite(logits).all()


def test_unknown_encoder_lists_valid_ones():
    assert SUPPORTED_ENCODERS == tuple(f"efficientnet-b{i}" for i in range(8))
    with pytest.raises(ValueError, match="efficientnet-b0, efficientnet-b1"):
        build_model("resnet50")


@pytest.mark.parametrize(("kwargs", "message"), [({"in_channels": 0}, "in_channels"), ({"dropout": 1.0}, "dropout")])
def test_bad_arguments_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_architecture("efficientnet-b0", **kwargs)
