"""Small trained recipes for the compare tests, built around the session's phantom-trained U-Net (conftest).

Training members from scratch costs minutes each on 2 cores, so the ensemble's second member is the trained U-Net
fine-tuned on a different sampling order, and the two-stage model gates the trained U-Net with a classifier trained
here: both are trained networks that differ, which is what the ensemble and gate need to be judged.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ptxseg.io.writers import quantize, write_png
from ptxseg.model.bundle import ModelBundle, save_bundle
from ptxseg.model.checkpoint import load_model
from ptxseg.phantom.synthetic import make_phantom
from ptxseg.training.classifier import train_classifier
from ptxseg.training.loop import train
from ptxseg.training.recipes import default_options
from tests.support.phantom_training import (
    CONFIG,
    DIFFICULTY,
    HELD_OUT_COUNT,
    SIZE,
    TRAIN_COUNT,
    VAL_COUNT,
    TrainedModel,
    _phantom_items,
)


@dataclass
class TrainedRecipes:
    """The models by name and the held-out phantoms' data spec (images the members never saw)."""

    models: dict[str, Path]
    held_out: str


def _write_held_out(folder: Path) -> str:
    first = TRAIN_COUNT + VAL_COUNT  # the seeds train_phantom_model holds out
    for part in ("images", "masks"):
        (folder / part).mkdir(parents=True, exist_ok=True)
    for seed in range(first, first + HELD_OUT_COUNT):
        phantom = make_phantom(size=SIZE, positive=seed % 2 == 0, seed=seed, difficulty=DIFFICULTY)
        write_png(quantize(phantom.image), folder / "images" / f"phantom-{seed}.png")
        write_png(quantize(phantom.mask.astype(np.float32)), folder / "masks" / f"phantom-{seed}.png")
    return f"folder:{folder / 'images'},{folder / 'masks'}"


def train_small_recipes(trained: TrainedModel, folder: Path) -> TrainedRecipes:
    """Members ``first`` (the trained U-Net) and ``second`` (it, fine-tuned 3 epochs), their ensemble, and a
    two-stage model (a b0 classifier trained 6 epochs gating ``first``)."""
    items = _phantom_items(folder / "train", range(TRAIN_COUNT + VAL_COUNT))
    train_items, val_items = items[:TRAIN_COUNT], items[TRAIN_COUNT:]
    tuned = train(
        train_items, val_items, replace(CONFIG, epochs=3, seed=1, learning_rate=3e-4), folder / "second",
        init_checkpoint=trained.checkpoint,
    )  # fmt: skip
    first, second = load_model(trained.checkpoint), load_model(tuned.checkpoint)
    ensemble = save_bundle(
        folder / "ensemble.safetensors", ModelBundle("ensemble", [first, second], default_options("ensemble", SIZE))
    )
    classifier = train_classifier(train_items, val_items, replace(CONFIG, epochs=6, dropout=0.0))
    two_stage = ModelBundle(
        "two_stage", [first], default_options("two_stage", SIZE), (classifier.model, classifier.metadata)
    )
    models = {
        "first": trained.checkpoint,
        "second": tuned.checkpoint,
        "ensemble": ensemble,
        "two_stage": save_bundle(folder / "two_stage.safetensors", two_stage),
    }
    return TrainedRecipes(models, _write_held_out(folder / "held-out"))
