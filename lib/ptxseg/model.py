"""The EfficientNet U-Net (MONAI FlexibleUNet, one logit channel) and where its encoder weights come from.

Weights never come from the network unless a user asks: ``encoder_weights`` is None (random, logged loudly), a
local ImageNet weights file, or ``"imagenet"`` for a file that :func:`download_imagenet_weights` put in the cache.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path

import torch
from monai.networks.nets import FlexibleUNet
from monai.networks.nets.efficientnet import url_map
from torch import nn

__all__ = [
    "DEFAULT_ENCODER",
    "SUPPORTED_ENCODERS",
    "WEIGHTS_CACHE_ENV",
    "build_architecture",
    "build_model",
    "describe_weights",
    "identify_architecture",
    "load_encoder_weights",
    "default_cache_dir",
    "imagenet_weights_path",
    "download_imagenet_weights",
    "recalibrate_batchnorm",
    "enable_mc_dropout",
    "check_input_side",
    "check_dropout",
]

DEFAULT_ENCODER = "efficientnet-b4"
# The EfficientNets MONAI has ImageNet weights for (b8 and l2 have none).
SUPPORTED_ENCODERS = tuple(name for name in url_map if name.startswith("efficientnet-"))
WEIGHTS_CACHE_ENV = "PTXSEG_WEIGHTS_DIR"
# MONAI's encoder uses TensorFlow's momentum 0.01: after a short fine-tune its running statistics are stale and
# eval-mode predictions collapse to the empty mask (measured, see DESIGN.md). PyTorch's 0.1 tracks them.
PYTORCH_BATCHNORM_MOMENTUM = 0.1
# The encoder's classifier head is never run by the U-Net; as parameters without gradients it would make DDP fail
# (unless find_unused_parameters=True) and add 2.6 M useless weights to every checkpoint.
_UNUSED_ENCODER_HEAD = ("_conv_head", "_bn1", "_dropout", "_fc")
_STEM_WEIGHT = "_conv_stem.weight"
# MONAI nests blocks by stage (_blocks.<stage>.<block>.*), efficientnet_pytorch files do not (_blocks.<block>.*);
# the same pattern MONAI uses to read those files.
_STAGE_INDEX = re.compile(r"(.+)\.\d+(\.\d+\..+)")

logger = logging.getLogger(__name__)


def check_input_side(side: int, name: str = "image_size") -> int:
    """Return ``side`` if the U-Net can take square inputs of that side, else raise a ValueError naming ``name``.

    Example:
        >>> check_input_side(512)
        512
    """
    if side < 32 or side % 32:
        raise ValueError(f"{name} must be a multiple of 32 and >= 32 (the encoder downsamples 5 times), got {side}")
    return side


def check_dropout(rate: float) -> float:
    """Return ``rate`` if it is a usable decoder dropout rate (0 <= rate < 1), else raise a ValueError.

    Example:
        >>> check_dropout(0.2)
        0.2
    """
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {rate}")
    return rate


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
        >>> model = build_model("efficientnet-b0")
        >>> model(torch.zeros(1, 1, 64, 64)).shape, describe_weights(model)
        (torch.Size([1, 1, 64, 64]), 'random')
    """
    model = build_architecture(encoder, in_channels, dropout)
    if encoder_weights is None:
        logger.warning(
            "%s U-Net starts from RANDOM weights: its predictions mean nothing until it is trained. For ImageNet "
            "encoder weights pass encoder_weights=<path to %s> or run "
            "ptxseg.model.download_imagenet_weights() once and pass encoder_weights='imagenet'.",
            encoder,
            Path(url_map[encoder]).name,
        )
        return model
    if encoder_weights == "imagenet":
        path = imagenet_weights_path(encoder, cache_dir)
        if not path.is_file():
            raise ValueError(
                f"ImageNet weights for {encoder} are not cached at {path}. Run "
                '`python -c "from ptxseg.model import download_imagenet_weights; '
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


def describe_weights(model: nn.Module) -> str:
    """Where the model's weights came from: ``'random'``, ``'imagenet:<path>'`` or ``'checkpoint:<path>'``.

    Example:
        >>> describe_weights(build_architecture("efficientnet-b0"))
        'random'
    """
    network = getattr(model, "module", model)  # DDP and DataParallel wrap the model in .module
    return getattr(network, "ptxseg_encoder_weights", "unknown")


def load_encoder_weights(model: FlexibleUNet, path: str | os.PathLike) -> None:
    """Copy ImageNet EfficientNet weights from a file into the U-Net's encoder, in place.

    Keys may follow efficientnet_pytorch (``_blocks.3._depthwise_conv.weight``) or MONAI
    (``_blocks.1.3._depthwise_conv.weight``); the classifier head (``_fc``, ``_conv_head``, ``_bn1``) is ignored.
    For a one-channel model the stem's RGB kernels are summed: a grey image copied to RGB would give exactly the
    same stem output, so the pretrained features see what they were trained on.

    Example:
        >>> load_encoder_weights(model, "efficientnet-b4-6ed6700e.pth")  # doctest: +SKIP
    """
    # Imported here: ptxseg.checkpoint rebuilds models with this module, a top-level import would be circular.
    from ptxseg.checkpoint import load_checkpoint

    source, _ = load_checkpoint(path)
    target = model.encoder.state_dict()
    loaded, missing, mismatched = {}, [], []
    for key, expected in target.items():
        source_key = next((name for name in (key, _STAGE_INDEX.sub(r"\1\2", key)) if name in source), None)
        if source_key is None:
            if not key.endswith("num_batches_tracked"):  # older files predate this buffer
                missing.append(key)
            continue
        weight = source[source_key]
        if key == _STEM_WEIGHT and weight.shape[1] == 3 and expected.shape[1] == 1:
            weight = weight.sum(dim=1, keepdim=True)
        if weight.shape != expected.shape:
            mismatched.append(f"{key}: file {tuple(weight.shape)}, model {tuple(expected.shape)}")
            continue
        loaded[key] = weight
    if missing or mismatched:
        raise ValueError(
            f"{path} does not fit the {model.backbone} encoder: {len(missing)} of {len(target)} weights missing "
            f"(e.g. {missing[:3]}), {len(mismatched)} with another shape (e.g. {mismatched[:3]}). Pass the "
            f"ImageNet file of {model.backbone} ({Path(url_map[model.backbone]).name})."
        )
    model.encoder.load_state_dict(loaded, strict=False)


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
    stem = state_dict.get(f"encoder.{_STEM_WEIGHT}")
    if stem is None or stem.ndim != 4:
        return None
    shapes = {key: tuple(value.shape) for key, value in state_dict.items()}
    in_channels = int(stem.shape[1])
    return next(
        ((encoder, in_channels) for encoder in SUPPORTED_ENCODERS if _parameter_shapes(encoder, in_channels) == shapes),
        None,
    )


def default_cache_dir() -> Path:
    """``$PTXSEG_WEIGHTS_DIR``, else ``~/.cache/ptxseg/weights``.

    Example:
        >>> default_cache_dir().name  # doctest: +SKIP
        'weights'
    """
    return Path(os.environ.get(WEIGHTS_CACHE_ENV) or Path.home() / ".cache" / "ptxseg" / "weights")


def imagenet_weights_path(encoder: str = DEFAULT_ENCODER, cache_dir: str | os.PathLike | None = None) -> Path:
    """Where the ImageNet weights of ``encoder`` are (or would be) cached.

    Example:
        >>> imagenet_weights_path("efficientnet-b4", "/models").as_posix()
        '/models/efficientnet-b4-6ed6700e.pth'
    """
    _check_encoder(encoder)
    return Path(cache_dir or default_cache_dir()) / Path(url_map[encoder]).name


def download_imagenet_weights(cache_dir: str | os.PathLike | None = None, encoder: str = DEFAULT_ENCODER) -> Path:
    """Download the ImageNet weights MONAI knows for ``encoder`` into the cache (only ever called on request).

    The file name carries a hash prefix, checked after download. An already cached file is not fetched again.

    Example:
        >>> download_imagenet_weights("/models")  # doctest: +SKIP
        PosixPath('/models/efficientnet-b4-6ed6700e.pth')
    """
    path = imagenet_weights_path(encoder, cache_dir)
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    hash_prefix = torch.hub.HASH_REGEX.search(path.name).group(1)
    logger.info("downloading %s ImageNet weights to %s", encoder, path)
    torch.hub.download_url_to_file(url_map[encoder], str(path), hash_prefix=hash_prefix, progress=True)
    return path


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
