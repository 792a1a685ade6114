"""ptxseg's checkpoint record: a model's weights with typed metadata (CheckpointMetadata), written atomically.

The file format itself (safetensors or weights-only ``.pt``, never unpickled code) is ``ptxseg.model.weights_file``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path

import torch
from monai.networks.nets import FlexibleUNet

from ptxseg import __version__
from ptxseg.io.atomic import atomic_write
from ptxseg.model.network import DEFAULT_ENCODER, build_architecture, describe_weights, identify_architecture
from ptxseg.model.weights_file import read_weights, write_weights
from ptxseg.transforms.fit import DEFAULT_IMAGE_SIZE
from ptxseg.transforms.intensity import IMAGENET_GREY_MEAN, IMAGENET_GREY_STD
from ptxseg.transforms.postprocess import ThresholdPostprocess, TripletPostprocess, postprocess_from_dict

__all__ = ["CheckpointMetadata", "save_checkpoint", "load_checkpoint", "load_model"]


logger = logging.getLogger(__name__)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class CheckpointMetadata:
    """Everything needed to rebuild, feed and judge a saved model; defaults are the paper's setup.

    ``image_size`` is the side of the square model input; ``normalize_mean``/``normalize_std`` standardise [0, 1]
    pixels; ``postprocess`` is a :func:`ptxseg.transforms.postprocess.postprocess_from_dict` config.
    ``encoder_weights`` is
    where the encoder's first weights came from (``'random'``, ``'imagenet:<path>'``, ...); None means "ask the
    model" and is filled in by :func:`save_checkpoint`, which also stamps ``created`` with the time of writing.

    Example:
        >>> CheckpointMetadata.from_dict({"encoder": "efficientnet-b0"}).in_channels
        1
    """

    encoder: str = DEFAULT_ENCODER
    in_channels: int = 1
    dropout: float = 0.0
    image_size: int = DEFAULT_IMAGE_SIZE
    normalize_mean: float = IMAGENET_GREY_MEAN
    normalize_std: float = IMAGENET_GREY_STD
    postprocess: dict = field(default_factory=lambda: ThresholdPostprocess().to_dict())
    metrics: dict = field(default_factory=dict)
    training_data: dict = field(default_factory=dict)
    encoder_weights: str | None = None
    ptxseg_version: str = __version__
    created: str = field(default_factory=_now)

    def __post_init__(self) -> None:
        self.postprocessor()  # fail at creation, not at the first prediction

    def postprocessor(self) -> ThresholdPostprocess | TripletPostprocess:
        """The post-processing step the stored thresholds describe."""
        return postprocess_from_dict(self.postprocess)

    def to_dict(self) -> dict:
        """Plain-JSON form."""
        return asdict(self)

    def update(self, **changes) -> None:
        """Change fields in place, with the same checks as :meth:`from_dict`.

        Example:
            >>> metadata = CheckpointMetadata()
            >>> metadata.update(metrics={"pooled_dice": 0.8}); metadata.metrics
            {'pooled_dice': 0.8}
        """
        updated = CheckpointMetadata.from_dict({**self.to_dict(), **changes})
        for name in changes:
            setattr(self, name, getattr(updated, name))

    @classmethod
    def from_dict(cls, values: Mapping) -> CheckpointMetadata:
        """Build from a mapping; missing keys take defaults, unknown keys are an error (likely a typo)."""
        names = {item.name for item in fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"unknown checkpoint metadata keys {unknown}; valid keys: {sorted(names)}")
        return cls(**values)


def save_checkpoint(
    path: str | os.PathLike, model: torch.nn.Module, metadata: Mapping | CheckpointMetadata | None = None
) -> Path:
    """Write the model's weights and metadata atomically (a crash never leaves half a file at ``path``).

    Architecture keys (encoder, in_channels) default to the model's own and given ones must agree; a missing
    ``encoder_weights`` is taken from :func:`ptxseg.model.network.describe_weights`.

    Args:
        path: ``*.safetensors`` (preferred) or ``*.pt``/``*.pth``.
        model: a model from :func:`ptxseg.model.network.build_model`, optionally DDP-wrapped.
        metadata: :class:`CheckpointMetadata` fields, e.g. ``{"metrics": {"dice": 0.82}}``.

    Returns:
        The path written.

    Example:
        >>> save_checkpoint("model.safetensors", model, {"metrics": {"pooled_dice": 0.82}})  # doctest: +SKIP
    """
    network = getattr(model, "module", model)  # DDP and DataParallel wrap the model in .module
    if not isinstance(network, FlexibleUNet):
        raise ValueError(
            f"save_checkpoint expects a model from ptxseg.model.network.build_model, got {type(network).__name__}"
        )
    given = metadata.to_dict() if isinstance(metadata, CheckpointMetadata) else dict(metadata or {})
    architecture = {"encoder": network.backbone, "in_channels": network.encoder.in_channels}
    meta = CheckpointMetadata.from_dict({**architecture, **given, "created": _now()})
    if meta.encoder_weights is None:
        meta.encoder_weights = describe_weights(network)
    if (meta.encoder, meta.in_channels) != (architecture["encoder"], architecture["in_channels"]):
        raise ValueError(
            f"metadata describes {meta.encoder} with in_channels={meta.in_channels} but the model is "
            f"{architecture['encoder']} with in_channels={architecture['in_channels']}; drop those keys or fix them"
        )
    tensors = {key: value.detach().cpu().contiguous() for key, value in network.state_dict().items()}
    with atomic_write(path) as temporary:
        write_weights(temporary, tensors, meta.to_dict())
    return path


def load_checkpoint(
    path: str | os.PathLike, map_location: str | torch.device = "cpu"
) -> tuple[dict[str, torch.Tensor], CheckpointMetadata | None]:
    """Read a checkpoint's tensors and metadata without executing anything stored in it.

    Args:
        path: ``*.safetensors``, or ``*.pt``/``*.pth`` holding a state dict or a dict with a ``state_dict`` or
            ``model`` entry (and optionally ``metadata``).
        map_location: device for the tensors.

    Returns:
        The state dict and its metadata (None when the file has none, e.g. a bare state dict).

    Example:
        >>> state_dict, metadata = load_checkpoint("model.safetensors")  # doctest: +SKIP
    """
    state_dict, header = read_weights(path, map_location)
    return state_dict, CheckpointMetadata.from_dict(header) if header is not None else None


def _check_fits(model: FlexibleUNet, state_dict: Mapping, meta: CheckpointMetadata, path: Path) -> None:
    expected = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    found = {key: tuple(value.shape) for key, value in state_dict.items()}
    if found == expected:
        return
    actual = identify_architecture(state_dict)
    if actual is not None:
        raise ValueError(
            f"checkpoint {path} is for {actual[0]} with in_channels={actual[1]}, but its metadata expects "
            f"{meta.encoder} with in_channels={meta.in_channels}; fix the metadata or pick the matching checkpoint"
        )
    missing = sorted(expected.keys() - found.keys())
    unexpected = sorted(found.keys() - expected.keys())
    reshaped = sorted(key for key in expected.keys() & found.keys() if expected[key] != found[key])
    raise ValueError(
        f"checkpoint {path} does not fit a {meta.encoder} U-Net (in_channels={meta.in_channels}): "
        f"{len(missing)} of {len(expected)} keys missing (e.g. {missing[:3]}), {len(unexpected)} unexpected "
        f"(e.g. {unexpected[:3]}), {len(reshaped)} with another shape (e.g. {reshaped[:3]})"
    )


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[FlexibleUNet, CheckpointMetadata]:
    """Rebuild the architecture a checkpoint's metadata describes, load its weights, return it in eval mode.

    A file without metadata is read as the default architecture (EfficientNet-B4, one channel).

    Example:
        >>> model, metadata = load_model("model.safetensors")  # doctest: +SKIP
        >>> metadata.postprocessor()(torch.sigmoid(model(image))[0, 0].numpy())  # doctest: +SKIP
    """
    path = Path(path)
    state_dict, meta = load_checkpoint(path)
    if meta is None:
        logger.warning("%s carries no ptxseg metadata; assuming the default architecture and preprocessing", path)
        meta = CheckpointMetadata()
    model = build_architecture(meta.encoder, meta.in_channels, meta.dropout)
    _check_fits(model, state_dict, meta, path)
    model.load_state_dict(state_dict)
    model.ptxseg_encoder_weights = f"checkpoint:{path.resolve()}"
    return model.to(device).eval(), meta


def load_model_or_refuse(checkpoint: Path, action: str) -> tuple[torch.nn.Module, CheckpointMetadata]:
    try:
        return load_model(checkpoint)
    except (ValueError, OSError) as error:
        raise ValueError(f"refusing to {action}: {checkpoint} does not load as a ptxseg model ({error})") from error
