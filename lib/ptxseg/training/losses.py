"""Training loss: soft Dice plus binary cross-entropy on logits, as in the paper (U-Net + EfficientNet-B4)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["DiceBCELoss"]


class DiceBCELoss(nn.Module):
    """``dice_weight * (1 - soft Dice) + bce_weight * BCEWithLogits`` for one-channel logits.

    The soft Dice is batch-level: intersection and sums run over every pixel of the whole batch (as
    segmentation_models_pytorch's ``DiceLoss`` does), ``(2 * sum(p * t) + smooth) / (sum(p) + sum(t) + smooth)``
    with ``p = sigmoid(logits)``. Per-image Dice would give each empty-truth image (most SIIM images) a loss set by
    the smoothing constant alone; pooling matches the paper's pooled Dice instead. BCE is averaged over pixels.

    Args:
        dice_weight: weight of the Dice term (>= 0).
        bce_weight: weight of the BCE term (>= 0); at least one weight must be positive.
        smooth: added to numerator and denominator (> 0) so an all-empty batch has Dice 1, not 0/0.

    Example:
        >>> loss = DiceBCELoss()(torch.zeros(1, 1, 2, 2), torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]]))
        >>> round(loss.item(), 4)  # Dice term (1 - 2/4) + BCE ln 2
        1.1931
    """

    def __init__(self, dice_weight: float = 1.0, bce_weight: float = 1.0, smooth: float = 1.0) -> None:
        super().__init__()
        if dice_weight < 0 or bce_weight < 0 or dice_weight + bce_weight == 0:
            raise ValueError(f"weights must be >= 0 and not both 0, got dice {dice_weight}, bce {bce_weight}")
        if smooth <= 0:
            raise ValueError(f"smooth must be > 0 (an empty batch would give 0/0), got {smooth}")
        self.dice_weight = dice_weight
        self.bce_weight = bce_weight
        self.smooth = smooth

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Loss for logits (N, 1, H, W) and targets of the same shape with values in {0, 1}."""
        if logits.shape != targets.shape:
            raise ValueError(f"logits {tuple(logits.shape)} and targets {tuple(targets.shape)} must have one shape")
        # float32 even under autocast: half-precision sums over a 512x512 batch lose the small lesions.
        logits, targets = logits.float(), targets.float()
        probs = torch.sigmoid(logits)
        dice = (2 * (probs * targets).sum() + self.smooth) / (probs.sum() + targets.sum() + self.smooth)
        bce = F.binary_cross_entropy_with_logits(logits, targets)
        return self.dice_weight * (1 - dice) + self.bce_weight * bce
