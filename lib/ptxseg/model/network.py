"""The EfficientNet U-Net (MONAI FlexibleUNet, one logit channel) and where its encoder weights come from.

Weights never come from the network unless a user asks: ``encoder_weights`` is None (random, logged loudly), a
local ImageNet weights file, or ``"imagenet"`` for a file that :func:`download_imagenet_weights` put in the cache.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Mapping
from functools import cache

import torch
from monai.networks.nets import FlexibleUNet
from monai.networks.nets.efficientnet import url_map
from torch import nn

from ptxseg.options.values import check_dropout

__all__ = [
    "DEFAULT_ENCODER",
    "SUPPORTED_ENCODERS",
    "build_architecture",
    "describe_weights",
    "identify_architecture",
    "recalibrate_batchnorm",
    "enable_mc_dropout",
]

DEFAULT_ENCODER = "efficientnet-b4"
# The EfficientNets MONAI has ImageNet weights for (b8 and l2 have none).
SUPPORTED_ENCODERS = tuple(name for name in url_map if name.startswith("efficientnet-"))
# MONAI's encoder uses TensorFlow's momentum 0.01: after a short fine-tune its running statistics are stale and
# eval-mode predictions collapse to the empty mask (measured; docs/architecture.md, "BatchNorm statistics").
# PyTorch's 0.1 tracks them.
PYTORCH_BATCHNORM_MOMENTUM = 0.1
# The encoder's classifier head is never run by the U-Net; as parameters without gradients it would make DDP fail
# (unless find_unused_parameters=True) and add 2.6 M useless weights to every checkpoint.
_UNUSED_ENCODER_HEAD = ("_conv_head", "_bn1", "_dropout", "_fc")

logger = logging.getLogger(__name__)


def _check_encoder(encoder: str) -> None:
    if encoder not in SUPPORTED_ENCODERS:
        raise ValueError(f"unknown encoder {encoder!r}; use one of {', '.join(SUPPORTED_ENCODERS)}")


def build_architecture(encoder: str = DEFAULT_ENCODER, in_channels: int = 1, dropout: float = 0.0) -> FlexibleUNet:
    """The U-Net with random weights and nothing logged: the base for :func:`build_model` and checkpoint loading.

    Example:
        >>> build_architecture("efficientnet-b0").backbone
        'efficientnet-b0'
    """
    _check_encoder(encoder)
    if in_channels < 1:
        raise ValueError(f"in_channels must be >= 1, got {in_channels}")
    check_dropout(dropout)
    model = FlexibleUNet(
        in_channels=in_channels,
        out_channels=1,
        backbone=encoder,
        pretrained=False,
        spatial_dims=2,
        dropout=dropout,
    )
    for name in _UNUSED_ENCODER_HEAD:
        setattr(model.encoder, name, nn.Identity())
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.momentum = PYTORCH_BATCHNORM_MOMENTUM
    model.ptxseg_encoder_weights = "random"
    return model


def describe_weights(model: nn.Module) -> str:
    """Where the model's weights came from: ``'random'``, ``'imagenet:<path>'`` or ``'checkpoint:<path>'``.

    Example:
        >>> describe_weights(build_architecture("efficientnet-b0"))
        'random'
    """
    network = getattr(model, "module", model)  # DDP and DataParallel wrap the model in .module
    return getattr(network, "ptxseg_encoder_weights", "unknown")


@cache
def _parameter_shapes(encoder: str, in_channels: int) -> dict[str, tuple[int, ...]]:
    with torch.device("meta"):  # shapes only: no memory, no random initialisation cost
        return {key: tuple(value.shape) for key, value in build_architecture(encoder, in_channels).state_dict().items()}


def identify_architecture(state_dict: Mapping[str, torch.Tensor]) -> tuple[str, int] | None:
    """The (encoder, in_channels) whose U-Net has exactly these keys and shapes, or None.

    Example:
        >>> identify_architecture(build_architecture("efficientnet-b0").state_dict())
        ('efficientnet-b0', 1)
    """
    stem = state_dict.get(f"encoder.{STEM_WEIGHT_KEY}")
    if stem is None or stem.ndim != 4:
        return None
    shapes = {key: tuple(value.shape) for key, value in state_dict.items()}
    in_channels = int(stem.shape[1])
    return next(
        ((encoder, in_channels) for encoder in SUPPORTED_ENCODERS if _parameter_shapes(encoder, in_channels) == shapes),
        None,
    )


def recalibrate_batchnorm(
    model: nn.Module, batches: Iterable[torch.Tensor | Mapping], device: torch.device | str | None = None
) -> nn.Module:
    """Re-estimate every BatchNorm's running statistics as the plain average over ``batches``; leave eval mode.

    Call after training (especially short fine-tunes) so eval-mode predictions match what training saw.

    Args:
        model: the U-Net.
        batches: input tensors (N, C, H, W), ``(image, label)`` pairs, or dicts with an ``"image"`` key.
        device: where to move each batch, e.g. the model's device.

    Example:
        >>> model = build_architecture("efficientnet-b0")
        >>> recalibrate_batchnorm(model, [torch.rand(2, 1, 64, 64)]).training
        False
    """
    iterator = iter(batches)
    first = next(iterator, None)
    if first is None:
        raise ValueError("recalibrate_batchnorm needs at least one batch of training images")
    images = (batch["image"] if isinstance(batch, Mapping) else batch for batch in itertools.chain([first], iterator))
    torch.optim.swa_utils.update_bn(images, model, device)
    return model.eval()


def enable_mc_dropout(model: nn.Module) -> nn.Module:
    """Put the model in eval mode except its dropout layers, for Monte-Carlo dropout uncertainty.

    Repeated forward passes then differ only by dropout, while BatchNorm uses its running statistics.

    Example:
        >>> enable_mc_dropout(build_architecture("efficientnet-b0", dropout=0.2)).training
        False
    """
    model.eval()
    dropouts = [m for m in model.modules() if isinstance(m, nn.modules.dropout._DropoutNd) and m.p > 0]
    if not dropouts:
        raise ValueError("the model has no dropout to sample; build it with dropout > 0, e.g. build_model(dropout=0.2)")
    for module in dropouts:
        module.train()
    return model


STEM_WEIGHT_KEY = "_conv_stem.weight"
