"""The image-level classifier of the two-stage recipe: an EfficientNet encoder, global pooling and one linear logit.

MONAI's ``EfficientNetBN`` is exactly that network (the SIIM 2nd place gated its U-Net with such a classifier), so
it is built from MONAI, with the same BatchNorm momentum fix as the U-Net (docs/architecture.md, "BatchNorm
statistics"): a short fine-tune must not leave stale running statistics.
"""

from __future__ import annotations

from monai.networks.nets import EfficientNetBN
from torch import nn

from ptxseg.model.network import DEFAULT_ENCODER, PYTORCH_BATCHNORM_MOMENTUM, SUPPORTED_ENCODERS

__all__ = ["build_classifier"]


def build_classifier(encoder: str = DEFAULT_ENCODER, in_channels: int = 1) -> EfficientNetBN:
    """A pneumothorax yes/no classifier with random weights: (N, C, S, S) -> (N, 1) logits.

    Example:
        >>> import torch
        >>> build_classifier("efficientnet-b0")(torch.zeros(2, 1, 64, 64)).shape
        torch.Size([2, 1])
    """
    if encoder not in SUPPORTED_ENCODERS:
        raise ValueError(f"unknown classifier encoder {encoder!r}; use one of {', '.join(SUPPORTED_ENCODERS)}")
    model = EfficientNetBN(encoder, pretrained=False, spatial_dims=2, in_channels=in_channels, num_classes=1)
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.momentum = PYTORCH_BATCHNORM_MOMENTUM
    return model
