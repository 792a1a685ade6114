"""The one way to build a new U-Net: the architecture plus its encoder's first weights (random, ImageNet, logged)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from monai.networks.nets import FlexibleUNet
from monai.networks.nets.efficientnet import url_map

from ptxseg.model.encoder_weights import imagenet_weights_path, load_encoder_weights
from ptxseg.model.network import DEFAULT_ENCODER, build_architecture

__all__ = ["build_model"]

logger = logging.getLogger(__name__)


def build_model(
    encoder: str = DEFAULT_ENCODER,
    in_channels: int = 1,
    encoder_weights: str | os.PathLike | None = None,
    dropout: float = 0.0,
    cache_dir: str | os.PathLike | None = None,
) -> FlexibleUNet:
    """Build the U-Net (logits, one channel) and initialise its encoder.

    Args:
        encoder: one of :data:`SUPPORTED_ENCODERS`.
        in_channels: input channels (1 for X-rays; ImageNet weights are adapted by summing the RGB kernels).
        encoder_weights: None for random weights (logged as a warning), a path to an ImageNet weights file
            (efficientnet_pytorch or MONAI naming, ``.pth``/``.pt``/``.safetensors``), or ``"imagenet"`` for the
            file :func:`download_imagenet_weights` cached.
        dropout: decoder dropout rate; > 0 enables MC-dropout uncertainty via :func:`enable_mc_dropout`.
        cache_dir: where ``"imagenet"`` looks (default :func:`default_cache_dir`).

    Returns:
        The model in train mode; ``describe_weights(model)`` says where its weights came from.

    Example:
        >>> import torch
        >>> from ptxseg.model.network import describe_weights
        >>> model = build_model("efficientnet-b0")
        >>> model(torch.zeros(1, 1, 64, 64)).shape, describe_weights(model)
        (torch.Size([1, 1, 64, 64]), 'random')
    """
    model = build_architecture(encoder, in_channels, dropout)
    if encoder_weights is None:
        logger.warning(
            "%s U-Net starts from RANDOM weights: its predictions mean nothing until it is trained. For ImageNet "
            "encoder weights pass encoder_weights=<path to %s> or run "
            "ptxseg.model.encoder_weights.download_imagenet_weights() once and pass encoder_weights='imagenet'.",
            encoder,
            Path(url_map[encoder]).name,
        )
        return model
    if encoder_weights == "imagenet":
        path = imagenet_weights_path(encoder, cache_dir)
        if not path.is_file():
            raise ValueError(
                f"ImageNet weights for {encoder} are not cached at {path}. Run "
                '`python -c "from ptxseg.model.encoder_weights import download_imagenet_weights; '
                f"download_imagenet_weights('{path.parent}', '{encoder}')\"` "
                f"where the network allows, or pass encoder_weights=<local path to {path.name}>."
            )
    else:
        path = Path(encoder_weights)
        if not path.is_file():
            raise ValueError(f"encoder weights file {path} not found; pass an existing file, 'imagenet' or None")
    load_encoder_weights(model, path)
    model.ptxseg_encoder_weights = f"imagenet:{path.resolve()}"
    return model
