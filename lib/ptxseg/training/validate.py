"""Judge a model in eval mode on fitted validation samples, with both metric conventions.

Sums, not averages, so DDP ranks can add their shards exactly before the ratios are taken.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ptxseg.datasets.labelled import CachedFittedDataset, LabelledImage
from ptxseg.evaluation.metrics import PooledCounts, per_image_dice
from ptxseg.model.checkpoint import load_model
from ptxseg.transforms.intensity import normalize

__all__ = ["ValidationResult", "validate", "probability_batches", "evaluate_checkpoint", "validate_predictor"]


@dataclass
class ValidationResult:
    """Per-image Dice sum (SIIM rule), image count, and pooled pixel counts."""

    dice_sum: float = 0.0
    n_images: int = 0
    pooled: PooledCounts = field(default_factory=PooledCounts)

    def add(self, pred: np.ndarray, truth: np.ndarray) -> None:
        """Score one image's boolean prediction against its truth."""
        self.dice_sum += per_image_dice(pred, truth)
        self.n_images += 1
        self.pooled.add(pred, truth)

    def to_array(self) -> np.ndarray:
        """Flat float64 array of the sums, the form reduced across DDP ranks."""
        return np.concatenate([[self.dice_sum, self.n_images], self.pooled.as_array()]).astype(np.float64)

    @classmethod
    def from_array(cls, values: np.ndarray) -> ValidationResult:
        """Inverse of :meth:`to_array`."""
        return cls(float(values[0]), int(round(values[1])), PooledCounts.from_array(np.round(values[2:]).astype(int)))

    def as_dict(self) -> dict:
        """Metrics by name; a pooled ratio that is 0/0 (no foreground anywhere) is None, never a made-up value."""
        return {
            "n_images": self.n_images,
            "per_image_dice": self.dice_sum / self.n_images if self.n_images else None,
            "pooled_dice": self.pooled.dice,
            "pooled_iou": self.pooled.iou,
            "precision": self.pooled.precision,
            "recall": self.pooled.recall,
            "pixel_accuracy": self.pooled.pixel_accuracy,
        }


@torch.inference_mode()
def probability_batches(model: torch.nn.Module, dataset: Dataset, device: torch.device, batch_size: int):
    """Yield (probabilities, labels) numpy batches of a fitted dataset, model in eval mode."""
    model.eval()
    for batch in DataLoader(dataset, batch_size=batch_size):
        logits = model(normalize(batch["image"]).to(device))
        yield torch.sigmoid(logits.float())[:, 0].cpu().numpy(), batch["label"][:, 0].numpy() > 0.5


def validate(model: torch.nn.Module, dataset: Dataset, device, threshold: float, batch_size: int) -> ValidationResult:
    """Threshold eval-mode probabilities at the model grid and accumulate both metric conventions."""
    result = ValidationResult()
    for probabilities, labels in probability_batches(model, dataset, torch.device(device), batch_size):
        for probability, label in zip(probabilities, labels, strict=True):
            result.add(probability > threshold, label)
    return result


def evaluate_checkpoint(
    checkpoint: Path, items: Sequence[LabelledImage], device: str = "cpu", threshold: float = 0.5, batch_size: int = 8
) -> dict:
    """Metrics of a saved model on labelled images, judged exactly as training judges its epochs (eval mode,
    model grid, same threshold), so a served champion and a fine-tuned challenger compare fairly."""
    model, metadata = load_model(checkpoint, device=device)
    dataset = CachedFittedDataset(items, metadata.image_size)
    return validate(model, dataset, device, threshold, batch_size).as_dict()


def validate_predictor(predictor, items: Sequence[LabelledImage], batch_size: int = 8) -> dict:
    """Metrics of any predictor (a U-Net, an ensemble, a two-stage model) with its own post-processing, at the
    model grid on the same fitted images as :func:`evaluate_checkpoint`: how a recipe's champion and challenger
    are judged against each other.

    Example:
        >>> validate_predictor(load_predictor("ensemble.safetensors"), val_items)["per_image_dice"]  # doctest: +SKIP
        0.91
    """
    result = ValidationResult()
    for batch in DataLoader(CachedFittedDataset(items, predictor.image_size), batch_size=batch_size):
        maps = predictor.probability_maps(batch["image"][:, 0].numpy())
        for probability, label in zip(maps, batch["label"][:, 0].numpy() > 0.5, strict=True):
            result.add(predictor.postprocess(probability), label)
    return result.as_dict()
