"""DiceBCELoss against values computed by hand on 2x2 images."""

import math

import pytest
import torch

from ptxseg.training.losses import DiceBCELoss

# One 2x2 image with a single foreground pixel.
TARGET = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]])


def test_zero_logits_hand_value():
    # p = 0.5 everywhere: sum(p*t) = 0.5, sum(p) = 2, sum(t) = 1 -> Dice (2*0.5 + 1) / (2 + 1 + 1) = 0.5.
    # BCE of logit 0 is ln 2 for every pixel.
    loss = DiceBCELoss()(torch.zeros_like(TARGET), TARGET)
    assert loss.item() == pytest.approx(0.5 + math.log(2))


def test_confident_logits_hand_value():
    logits = torch.tensor([[[[3.0, -3.0], [-3.0, -3.0]]]])
    p = 1 / (1 + math.exp(-3.0))  # sigmoid(3); the negatives have 1 - p
    dice = (2 * p + 1) / (p + 3 * (1 - p) + 1 + 1)
    bce = -math.log(p)  # every pixel is right with probability p
    assert DiceBCELoss()(logits, TARGET).item() == pytest.approx(1 - dice + bce, rel=1e-6)


def test_dice_is_pooled_over_the_batch():
    # Image A = TARGET, image B empty, logits 0. Batch: sum(p*t) = 0.5, sum(p) = 4, sum(t) = 1
    # -> Dice (1 + 1) / (4 + 1 + 1) = 1/3, loss 2/3. Per-image averaging would give 1 - (1/2 + 1/3) / 2 = 7/12.
    targets = torch.cat([TARGET, torch.zeros_like(TARGET)])
    loss = DiceBCELoss(dice_weight=1.0, bce_weight=0.0)(torch.zeros_like(targets), targets)
    assert loss.item() == pytest.approx(2 / 3)


def test_weights_scale_the_terms():
    logits = torch.zeros_like(TARGET)
    assert DiceBCELoss(dice_weight=2.0, bce_weight=0.0)(logits, TARGET).item() == pytest.approx(1.0)
    assert DiceBCELoss(dice_weight=0.0, bce_weight=3.0)(logits, TARGET).item() == pytest.approx(3 * math.log(2))


def test_empty_batch_predicted_empty_has_no_dice_loss():
    # sum(p) ~ 0, sum(t) = 0: Dice = smooth / (~0 + smooth) ~ 1 thanks to smoothing, not 0/0.
    targets = torch.zeros(2, 1, 4, 4)
    loss = DiceBCELoss(bce_weight=0.0)(torch.full_like(targets, -20.0), targets)
    assert loss.item() == pytest.approx(0.0, abs=1e-6)


def test_gradient_reaches_the_logits():
    logits = torch.zeros_like(TARGET, requires_grad=True)
    DiceBCELoss()(logits, TARGET).backward()
    assert logits.grad[0, 0, 0, 0] < 0  # raise the foreground pixel
    assert logits.grad[0, 0, 1, 1] > 0  # lower a background pixel


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dice_weight": -1.0}, "weights"),
        ({"dice_weight": 0.0, "bce_weight": 0.0}, "weights"),
        ({"smooth": 0.0}, "smooth"),
    ],
)
def test_bad_arguments_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DiceBCELoss(**kwargs)


def test_shape_mismatch_is_rejected():
    with pytest.raises(ValueError, match="one shape"):
        DiceBCELoss()(torch.zeros(1, 1, 2, 2), torch.zeros(1, 2, 2))
