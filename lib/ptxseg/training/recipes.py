"""Training the competition recipes: every U-Net of an ensemble, or the two-stage classifier and U-Net, then one
bundle judged as a whole (``validate_predictor``) and written as one file.

Each U-Net is trained by the paper's loop (``ptxseg.training.loop.train``), the classifier by
``ptxseg.training.classifier``; this module only runs them and assembles the result.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ptxseg.datasets.labelled import LabelledImage
from ptxseg.inference.loading import load_predictor
from ptxseg.model.bundle import ModelBundle, load_bundle, save_bundle
from ptxseg.model.checkpoint import load_model, save_checkpoint
from ptxseg.training.classifier import train_classifier
from ptxseg.training.config import DEFAULT_ENSEMBLE, TrainConfig
from ptxseg.training.loop import train
from ptxseg.training.validate import validate_predictor
from ptxseg.transforms.postprocess import ThresholdPostprocess, TripletPostprocess

__all__ = ["RecipeResult", "default_options", "train_recipe"]


@dataclass
class RecipeResult:
    """The bundle written, its validation metrics as a whole, and each member's own."""

    checkpoint: Path
    metrics: dict
    member_metrics: list[dict]


def default_options(kind: str, image_size: int) -> dict:
    """A recipe's default options: the 1st place's triplet (0.75 / 2000 px at 1024 px / 0.3) with flip-TTA for the
    ensemble; a 0.5 gate and the U-Net's own 0.5 threshold for two-stage.

    Example:
        >>> default_options("ensemble", 512)["postprocess"]
        {'kind': 'triplet', 'top_threshold': 0.75, 'min_area': 500, 'bottom_threshold': 0.3}
    """
    if kind == "ensemble":
        min_area = round(2000 * (image_size / 1024) ** 2)
        return {"hflip": True, "postprocess": TripletPostprocess(0.75, min_area, 0.3).to_dict()}
    if kind == "two_stage":
        return {"classifier_threshold": 0.5, "postprocess": ThresholdPostprocess().to_dict()}
    raise ValueError(f"unknown recipe {kind!r}; use ensemble or two_stage")


def train_recipe(
    kind: str,
    train_items: Sequence[LabelledImage],
    val_items: Sequence[LabelledImage],
    config: TrainConfig,
    out_dir: Path,
    encoders: Sequence[str] = DEFAULT_ENSEMBLE,
    init: Path | None = None,
    options: dict | None = None,
) -> RecipeResult:
    """Train (or fine-tune every member of the bundle ``init``) and write ``out_dir/best.safetensors``.

    Args:
        kind: ``ensemble`` (one U-Net per encoder) or ``two_stage`` (classifier and U-Net on ``config.encoder``).
        encoders: the ensemble's member encoders; ignored with ``init`` (its members are fine-tuned).
        options: the recipe's options (default: ``init``'s, else :func:`default_options`).

    Example:
        >>> train_recipe("ensemble", train_items, val_items, TrainConfig(epochs=1), Path("runs/e"))  # doctest: +SKIP
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    previous = load_bundle(init) if init is not None else None
    if previous is not None and previous.kind != kind:
        raise ValueError(f"{init} is a {previous.kind} model; fine-tune it as {previous.kind}, not {kind}")
    chosen = options or (previous.options if previous else default_options(kind, config.image_size))
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".members-") as staging:
        starts = _member_starts(previous, Path(staging))
        if kind == "ensemble":
            plan = starts or [(encoder, None) for encoder in encoders]
        else:
            plan = starts or [(config.encoder, None)]
        unets, member_metrics = [], []
        for index, (encoder, start) in enumerate(plan):
            member_config = replace(config, encoder=encoder)
            result = train(train_items, val_items, member_config, out_dir / f"member-{index}", init_checkpoint=start)
            unets.append(load_model(result.checkpoint))
            member_metrics.append({"encoder": encoder, **result.best_metrics})
    classifier = None
    if kind == "two_stage":
        trained = train_classifier(train_items, val_items, config, previous.classifier if previous else None)
        classifier = (trained.model, trained.metadata)
        member_metrics.append({"encoder": trained.metadata.encoder, "role": "classifier", **trained.metrics})
    summary = {"train": len(train_items), "validation": len(val_items)}
    bundle = ModelBundle(kind, unets, chosen, classifier, training_data=summary)
    path = save_bundle(out_dir / "best.safetensors", bundle)
    metrics = validate_predictor(load_predictor(path, config.device, "torch"), val_items, config.batch_size)
    bundle.metrics = metrics
    save_bundle(path, bundle)
    return RecipeResult(path, metrics, member_metrics)


def _member_starts(previous: ModelBundle | None, folder: Path) -> list[tuple[str, Path]]:
    """Each U-Net of ``previous`` as a checkpoint file the training loop can start from."""
    if previous is None:
        return []
    return [
        (meta.encoder, save_checkpoint(folder / f"start-{index}.safetensors", model, meta))
        for index, (model, meta) in enumerate(previous.unets)
    ]
