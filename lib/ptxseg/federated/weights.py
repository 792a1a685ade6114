"""Model weights as FLARE carries them (name -> numpy array) and back into a ptxseg checkpoint.

Only arrays travel between server and sites; the checkpoint's metadata (encoder, input size, post-processing) stays
where the checkpoint is written, and every array set is checked against the U-Net it claims to be before it is used.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from ptxseg.model.checkpoint import CheckpointMetadata, load_checkpoint, save_checkpoint
from ptxseg.model.network import build_architecture, identify_architecture

__all__ = ["checkpoint_weights", "model_weights", "write_weights_checkpoint"]


def model_weights(model: torch.nn.Module) -> dict[str, np.ndarray]:
    """A model's state as numpy arrays (what a site sends).

    Example:
        >>> weights = model_weights(build_architecture("efficientnet-b0"))
        >>> type(weights["encoder._conv_stem.weight"]).__name__
        'ndarray'
    """
    return {name: value.detach().cpu().numpy() for name, value in model.state_dict().items()}


def checkpoint_weights(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], CheckpointMetadata]:
    """A checkpoint's arrays and metadata; a file without ptxseg metadata is refused."""
    state_dict, metadata = load_checkpoint(path)
    if metadata is None:
        raise ValueError(f"{path} has no ptxseg metadata: start the federation from a ptxseg checkpoint")
    return {name: value.numpy() for name, value in state_dict.items()}, metadata


def write_weights_checkpoint(
    weights: Mapping[str, np.ndarray], metadata: CheckpointMetadata, path: str | os.PathLike
) -> Path:
    """Save ``weights`` as a checkpoint with ``metadata``, whose encoder becomes the one the arrays are of.

    Example:
        >>> import tempfile
        >>> weights = model_weights(build_architecture("efficientnet-b0"))
        >>> path = Path(tempfile.mkdtemp()) / "global.safetensors"
        >>> write_weights_checkpoint(weights, CheckpointMetadata(), path).name
        'global.safetensors'
        >>> write_weights_checkpoint({"w": np.zeros(3)}, CheckpointMetadata(), path)
        Traceback (most recent call last):
        ValueError: the received weights are not a ptxseg U-Net (1 arrays); is every site on the same ptxseg version?
    """
    state_dict = {name: torch.as_tensor(np.asarray(value)) for name, value in weights.items()}
    architecture = identify_architecture(state_dict)
    if architecture is None:
        raise ValueError(
            f"the received weights are not a ptxseg U-Net ({len(state_dict)} arrays); is every site on the same"
            " ptxseg version?"
        )
    metadata.update(encoder=architecture[0], in_channels=architecture[1])
    model = build_architecture(metadata.encoder, metadata.in_channels, metadata.dropout)
    model.load_state_dict(state_dict)
    return save_checkpoint(path, model, metadata)
