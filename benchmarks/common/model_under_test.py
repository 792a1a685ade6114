"""The model a benchmark times: a trained checkpoint (``--model``) or a random-init network saved as one, labelled so
that no reader mistakes agreement on an untrained net for segmentation quality."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from benchmarks.common.model_inputs import input_side
from ptxseg.model.checkpoint import CheckpointMetadata, load_model, save_checkpoint
from ptxseg.model.network import DEFAULT_ENCODER, build_architecture

__all__ = ["add_model_arguments", "model_under_test"]


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """``--model``, ``--encoder`` and ``--size``: what ``model_under_test`` is called with."""
    parser.add_argument("--model", help="trained checkpoint (default: random-init --encoder)")
    parser.add_argument("--encoder", default=DEFAULT_ENCODER, help="encoder of the random-init model")
    parser.add_argument("--size", type=input_side, help="model input side (default: the checkpoint's, else 512)")


def model_under_test(
    model_path: str | None, encoder: str, size: int | None, workdir: Path
) -> tuple[torch.nn.Module, Path, int, str]:
    """The network, a checkpoint file for it (exports are cached beside it), the input size, a label.

    Example:
        >>> model, checkpoint, size, label = model_under_test(None, "efficientnet-b0", 64, Path("."))
        >>> checkpoint.name, size, label.split()[0]
        ('random-init.safetensors', 64, 'RANDOM-INIT')
    """
    if model_path:
        checkpoint = Path(model_path)
        model, metadata = load_model(checkpoint)
        metrics = {key: value for key, value in metadata.metrics.items() if "dice" in key}
        label = f"TRAINED checkpoint {checkpoint} ({metadata.encoder}, trained at {metadata.image_size} px, {metrics})"
        return model, checkpoint, size or metadata.image_size, label
    size = size or 512
    model = build_architecture(encoder).eval()
    checkpoint = save_checkpoint(
        workdir / "random-init.safetensors", model, CheckpointMetadata(encoder=encoder, image_size=size)
    )
    label = (
        f"RANDOM-INIT {encoder} (no --model): its masks mean nothing, so 'mask Dice vs fp32' only checks "
        "the runtimes agree numerically on an untrained net; pass --model CKPT for agreement on a trained model"
    )
    return model, checkpoint, size, label
