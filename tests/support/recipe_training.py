"""Small recipes trained from scratch on phantoms through ``ptxseg train --kind``, shared by the compare tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ptxseg.cli.main import main
from ptxseg.phantom.files import write_phantoms

SIZE = 64
# Measured on 2 shared cores: 12 epochs of 4 steps (batch 8, 32 images) per network, about 2 minutes in all.
TRAIN_FLAGS = [
    "--image-size", str(SIZE), "--batch-size", "8", "--epochs", "12", "--patience", "50", "--lr", "1e-3",
    "--no-augment", "--monitor-metric", "per_image_dice", "--encoder", "efficientnet-b0", "--device", "cpu",
    "--val-fraction", "0.2", "--bn-recalibration-batches", "4",
]  # fmt: skip


@dataclass
class TrainedRecipes:
    """The trained models by name and the held-out phantoms' data spec."""

    models: dict[str, Path]
    held_out: str


def _phantom_spec(folder: Path, n: int, seed: int) -> str:
    write_phantoms(folder, n, size=SIZE, seed=seed, difficulty=0.2)
    return f"folder:{folder / 'images'},{folder / 'masks'}"


def train_small_recipes(folder: Path) -> TrainedRecipes:
    """An ensemble of a b0 and a b1 U-Net and a b0 two-stage model; each ensemble member is also a single model."""
    train_spec = _phantom_spec(folder / "train", 40, seed=0)
    held_out = _phantom_spec(folder / "held-out", 16, seed=1)
    common = ["train", "--data", train_spec, *TRAIN_FLAGS]
    members = "efficientnet-b0,efficientnet-b1"
    assert main([*common, "--kind", "ensemble", "--members", members, "--out", str(folder / "ensemble")]) == 0
    assert main([*common, "--kind", "two_stage", "--out", str(folder / "two_stage")]) == 0
    models = {
        "b0": folder / "ensemble" / "member-0" / "best.safetensors",
        "b1": folder / "ensemble" / "member-1" / "best.safetensors",
        "ensemble": folder / "ensemble" / "best.safetensors",
        "two_stage": folder / "two_stage" / "best.safetensors",
    }
    return TrainedRecipes(models, held_out)
