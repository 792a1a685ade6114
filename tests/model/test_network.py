"""The U-Net itself: BatchNorm momentum, DDP gradients, architecture from shapes, BatchNorm re-estimation, dropout."""

import pytest
import torch
from monai.networks.nets import FlexibleUNet
from torch import nn

from ptxseg.model.factory import build_model
from ptxseg.model.network import (
    build_architecture,
    enable_mc_dropout,
    identify_architecture,
    recalibrate_batchnorm,
)


def _batchnorms(model: nn.Module) -> list:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def test_every_batchnorm_uses_pytorch_momentum():
    plain = FlexibleUNet(1, 1, "efficientnet-b0", pretrained=False)
    assert {bn.momentum for bn in _batchnorms(plain)} == {0.01, 0.1}  # the trap: MONAI's encoder uses 0.01
    assert {bn.momentum for bn in _batchnorms(build_architecture("efficientnet-b0"))} == {0.1}


def test_every_parameter_gets_a_gradient_so_ddp_needs_no_unused_parameter_search():
    model = build_architecture("efficientnet-b0")
    model(torch.rand(2, 1, 64, 64)).mean().backward()
    without_grad = [name for name, parameter in model.named_parameters() if parameter.grad is None]
    assert without_grad == []


def test_identify_architecture_from_shapes():
    assert identify_architecture(build_architecture("efficientnet-b1", in_channels=3).state_dict()) == (
        "efficientnet-b1",
        3,
    )
    assert identify_architecture({"conv.weight": torch.zeros(1)}) is None


def test_recalibrate_batchnorm_takes_plain_average_over_batches():
    model = build_architecture("efficientnet-b0")
    stem_bn = model.encoder._bn0
    stem_bn.running_mean.fill_(123.0)  # stale statistics, as after a short fine-tune
    torch.manual_seed(0)
    batches = [torch.rand(2, 1, 64, 64) * (index + 1) for index in range(3)]

    recalibrate_batchnorm(model, ({"image": batch} for batch in batches))

    with torch.no_grad():
        stem = torch.cat([model.encoder._conv_stem(model.encoder._conv_stem_padding(batch)) for batch in batches])
    assert torch.allclose(stem_bn.running_mean, stem.mean(dim=(0, 2, 3)), atol=1e-5)
    assert not model.training
    assert stem_bn.momentum == 0.1


def test_recalibrate_batchnorm_needs_batches():
    with pytest.raises(ValueError, match="at least one batch"):
        recalibrate_batchnorm(build_architecture("efficientnet-b0"), [])


def test_mc_dropout_samples_differ_while_batchnorm_stays_in_eval():
    model = enable_mc_dropout(build_model("efficientnet-b0", dropout=0.5))
    image = torch.rand(1, 1, 64, 64)
    with torch.no_grad():
        first, second = model(image), model(image)
    assert not torch.equal(first, second)
    assert not any(bn.training for bn in _batchnorms(model))
    with torch.no_grad():
        assert torch.equal(model.eval()(image), model(image))


def test_mc_dropout_needs_dropout():
    with pytest.raises(ValueError, match="dropout > 0"):
        enable_mc_dropout(build_architecture("efficientnet-b0"))
