"""Several networks in one safe weights file: the ensemble and two-stage recipes as one model file.

One file, not a folder of member checkpoints, so everything that handles "the model" handles a recipe unchanged:
the model store installs it with one atomic copy (champion/challenger swaps the whole ensemble or nothing),
``ptxseg export --app`` copies one file, and a half-written recipe cannot be served. The header names the kind,
each member's role and metadata (a U-Net's is its ``CheckpointMetadata``), and the recipe's options; member tensors
are prefixed with the member's index.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import torch
from torch import nn

from ptxseg import __version__
from ptxseg.io.atomic import atomic_write
from ptxseg.model.checkpoint import CheckpointMetadata, load_model
from ptxseg.model.classifier import build_classifier
from ptxseg.model.network import build_architecture
from ptxseg.model.weights_file import read_weights, write_weights
from ptxseg.options import check_probability
from ptxseg.transforms.postprocess import postprocess_from_dict

__all__ = [
    "BUNDLE_KEY",
    "MODEL_KINDS",
    "ClassifierMetadata",
    "ModelBundle",
    "check_options",
    "load_any",
    "load_bundle",
    "model_kind",
    "save_bundle",
]

BUNDLE_KEY = "ptxseg_bundle"
# "unet": a plain checkpoint (ptxseg.model.checkpoint); the others are bundles.
MODEL_KINDS = ("unet", "ensemble", "two_stage")
_OPTION_KEYS = {"ensemble": {"hflip", "postprocess"}, "two_stage": {"classifier_threshold", "postprocess"}}


@dataclass
class ClassifierMetadata:
    """What rebuilds and feeds the two-stage classifier."""

    encoder: str
    image_size: int
    in_channels: int = 1


@dataclass
class ModelBundle:
    """A recipe's networks (eval mode after loading) and options.

    ``options``: for ``ensemble`` ``hflip`` (bool: average each member with its mirrored view) and ``postprocess``;
    for ``two_stage`` ``classifier_threshold`` (below it the mask is empty) and ``postprocess``.
    """

    kind: str
    unets: list[tuple[nn.Module, CheckpointMetadata]]
    options: dict
    classifier: tuple[nn.Module, ClassifierMetadata] | None = None
    metrics: dict = field(default_factory=dict)
    training_data: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_options(self.kind, self.options)
        if self.kind == "ensemble" and (len(self.unets) < 2 or self.classifier is not None):
            raise ValueError(f"an ensemble needs two or more U-Nets and no classifier, got {len(self.unets)} U-Nets")
        if self.kind == "two_stage" and (len(self.unets) != 1 or self.classifier is None):
            raise ValueError("a two-stage model needs exactly one U-Net and one classifier")
        sizes = {metadata.image_size for _, metadata in self.unets}
        if self.classifier is not None:
            sizes.add(self.classifier[1].image_size)
        if len(sizes) != 1:
            raise ValueError(f"every network of a {self.kind} model must take the same input size, got {sorted(sizes)}")

    @property
    def image_size(self) -> int:
        """The common input side."""
        return self.unets[0][1].image_size

    def describe(self) -> list[dict]:
        """One line of facts per member, for ``/info`` and reports."""
        members = [
            {"role": "unet", "encoder": meta.encoder, "created": meta.created, "metrics": meta.metrics}
            for _, meta in self.unets
        ]
        if self.classifier is not None:
            members.append({"role": "classifier", "encoder": self.classifier[1].encoder})
        return members


def check_options(kind: str, options: dict) -> None:
    """Refuse a recipe's options that are unknown, missing or out of range, naming what is valid.

    Example:
        >>> check_options("ensemble", {"hflip": True})
        Traceback (most recent call last):
        ValueError: a ensemble model's options are ['hflip', 'postprocess'], got ['hflip']
    """
    if kind not in _OPTION_KEYS:
        raise ValueError(f"unknown model kind {kind!r}; use one of {', '.join(MODEL_KINDS)}")
    if set(options) != _OPTION_KEYS[kind]:
        raise ValueError(f"a {kind} model's options are {sorted(_OPTION_KEYS[kind])}, got {sorted(options)}")
    postprocess_from_dict(options["postprocess"])
    if kind == "two_stage":
        check_probability("classifier_threshold", options["classifier_threshold"])
    elif not isinstance(options["hflip"], bool):
        raise ValueError(f"hflip must be true or false, got {options['hflip']!r}")


def save_bundle(path: str | os.PathLike, bundle: ModelBundle) -> Path:
    """Write every member's weights and the recipe's header atomically.

    Example:
        >>> from ptxseg.model.network import build_architecture
        >>> meta = CheckpointMetadata("efficientnet-b0", image_size=64)
        >>> unets = [(build_architecture("efficientnet-b0"), meta), (build_architecture("efficientnet-b0"), meta)]
        >>> options = {"hflip": True, "postprocess": {"kind": "threshold", "threshold": 0.5, "min_area": 0}}
        >>> path = save_bundle("ensemble.safetensors", ModelBundle("ensemble", unets, options))
        >>> model_kind(path), len(load_bundle(path).unets)
        ('ensemble', 2)
    """
    networks = [model for model, _ in bundle.unets]
    members = [{"role": "unet", "metadata": meta.to_dict()} for _, meta in bundle.unets]
    if bundle.classifier is not None:
        networks.append(bundle.classifier[0])
        members.append({"role": "classifier", "metadata": vars(bundle.classifier[1])})
    tensors = {
        f"{index}.{key}": value.detach().cpu().contiguous()
        for index, network in enumerate(networks)
        for key, value in getattr(network, "module", network).state_dict().items()
    }
    header = {
        BUNDLE_KEY: {
            "kind": bundle.kind,
            "options": bundle.options,
            "members": members,
            "metrics": bundle.metrics,
            "training_data": bundle.training_data,
            "ptxseg_version": __version__,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
    }
    with atomic_write(path) as temporary:
        write_weights(temporary, tensors, header)
    return Path(path)


def model_kind(path: str | os.PathLike) -> str:
    """``unet`` for a plain checkpoint, else the bundle's kind (reads the whole file: use once per load)."""
    _, header = read_weights(path)
    return header[BUNDLE_KEY]["kind"] if header and BUNDLE_KEY in header else "unet"


def load_bundle(path: str | os.PathLike) -> ModelBundle:
    """Rebuild every member of a bundle, load its weights (nothing executed), return them in eval mode.

    Raises:
        ValueError: the file is a plain checkpoint or its header or tensors do not fit; the message says which.
    """
    tensors, header = read_weights(path)
    if not header or BUNDLE_KEY not in header:
        raise ValueError(f"{path} is a single U-Net checkpoint, not an ensemble or two-stage model")
    record = header[BUNDLE_KEY]
    unets, classifier = [], None
    for index, member in enumerate(record["members"]):
        prefix = f"{index}."
        state = {key[len(prefix) :]: value for key, value in tensors.items() if key.startswith(prefix)}
        if member["role"] == "unet":
            meta = CheckpointMetadata.from_dict(member["metadata"])
            network = build_architecture(meta.encoder, meta.in_channels, meta.dropout)
            unets.append((_loaded(network, state, path, index), meta))
        elif member["role"] == "classifier":
            meta = ClassifierMetadata(**member["metadata"])
            classifier = (_loaded(build_classifier(meta.encoder, meta.in_channels), state, path, index), meta)
        else:
            raise ValueError(f"{path}: member {index} has unknown role {member['role']!r}")
    return ModelBundle(
        record["kind"], unets, record["options"], classifier, record.get("metrics", {}), record.get("training_data", {})
    )


def _loaded(network: nn.Module, state: dict[str, torch.Tensor], path, index: int) -> nn.Module:
    try:
        network.load_state_dict(state)
    except RuntimeError as error:
        raise ValueError(f"{path}: member {index} does not fit its recorded architecture ({error})") from error
    network.ptxseg_encoder_weights = f"checkpoint:{Path(path).resolve()}"
    return network.eval()


def load_any(path: str | os.PathLike) -> str:
    """Load a model file of any kind once, as a check; returns its kind, raises ValueError/OSError if it is unusable.

    Example:
        >>> load_any("no-such-model.safetensors")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        FileNotFoundError: ...
    """
    kind = model_kind(path)
    if kind == "unet":
        load_model(path)
    else:
        load_bundle(path)
    return kind
