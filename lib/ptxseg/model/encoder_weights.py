"""ImageNet encoder weights: from a local file, or from an explicit opt-in cached download; never fetched unasked."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import torch
from monai.networks.nets import FlexibleUNet
from monai.networks.nets.efficientnet import url_map

from ptxseg.model.network import DEFAULT_ENCODER, STEM_WEIGHT_KEY, _check_encoder
from ptxseg.model.weights_file import read_weights

__all__ = [
    "WEIGHTS_CACHE_ENV",
    "load_encoder_weights",
    "default_cache_dir",
    "imagenet_weights_path",
    "download_imagenet_weights",
]

logger = logging.getLogger(__name__)

WEIGHTS_CACHE_ENV = "PTXSEG_WEIGHTS_DIR"


# MONAI nests blocks by stage (_blocks.<stage>.<block>.*), efficientnet_pytorch files do not (_blocks.<block>.*);
# the same pattern MONAI uses to read those files.
_STAGE_INDEX = re.compile(r"(.+)\.\d+(\.\d+\..+)")


def load_encoder_weights(model: FlexibleUNet, path: str | os.PathLike) -> None:
    """Copy ImageNet EfficientNet weights from a file into the U-Net's encoder, in place.

    Keys may follow efficientnet_pytorch (``_blocks.3._depthwise_conv.weight``) or MONAI
    (``_blocks.1.3._depthwise_conv.weight``); the classifier head (``_fc``, ``_conv_head``, ``_bn1``) is ignored.
    For a one-channel model the stem's RGB kernels are summed: a grey image copied to RGB would give exactly the
    same stem output, so the pretrained features see what they were trained on.

    Example:
        >>> load_encoder_weights(model, "efficientnet-b4-6ed6700e.pth")  # doctest: +SKIP
    """
    source, _ = read_weights(path)
    target = model.encoder.state_dict()
    loaded, missing, mismatched = {}, [], []
    for key, expected in target.items():
        source_key = next((name for name in (key, _STAGE_INDEX.sub(r"\1\2", key)) if name in source), None)
        if source_key is None:
            if not key.endswith("num_batches_tracked"):  # older files predate this buffer
                missing.append(key)
            continue
        weight = source[source_key]
        if key == STEM_WEIGHT_KEY and weight.shape[1] == 3 and expected.shape[1] == 1:
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
