"""Training the two-stage recipe's classifier: BCE on image labels read off the masks (an empty mask is a negative).

The U-Net loop's config, data, sampling, schedule and BatchNorm re-estimation are reused; only the target (one bit
per image), the loss and the judge (image-level AUC) differ.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader

from ptxseg.compute.device import resolve_device
from ptxseg.datasets.labelled import CachedFittedDataset, LabelledImage
from ptxseg.evaluation.metrics import image_level_metrics
from ptxseg.model.bundle import ClassifierMetadata
from ptxseg.model.classifier import build_classifier
from ptxseg.model.network import recalibrate_batchnorm
from ptxseg.training.augment import train_augmentations
from ptxseg.training.config import TrainConfig
from ptxseg.training.loop import _clean_batches, _cosine_schedule, _seed_everything, _training_loader
from ptxseg.transforms.intensity import normalize

__all__ = ["ClassifierResult", "image_labels", "train_classifier"]

LOGGER = logging.getLogger(__name__)


@dataclass
class ClassifierResult:
    """The trained classifier (eval mode), what rebuilds it, and its validation AUC/sensitivity/specificity."""

    model: torch.nn.Module
    metadata: ClassifierMetadata
    metrics: dict


def image_labels(masks: torch.Tensor) -> torch.Tensor:
    """One float label per image (N, 1): 1 where the mask (N, 1, S, S) has any pneumothorax pixel.

    Example:
        >>> image_labels(torch.stack([torch.zeros(1, 2, 2), torch.eye(2)[None]])).tolist()
        [[0.0], [1.0]]
    """
    return (masks.flatten(1) > 0.5).any(dim=1, keepdim=True).float()


def train_classifier(
    train_items: Sequence[LabelledImage],
    val_items: Sequence[LabelledImage],
    config: TrainConfig,
    init: tuple[torch.nn.Module, ClassifierMetadata] | None = None,
) -> ClassifierResult:
    """Train ``config.epochs`` epochs (from ``init`` when fine-tuning) and judge the result in eval mode.

    Example:
        >>> train_classifier(train_items, val_items, TrainConfig(epochs=1)).metrics["auc"]  # doctest: +SKIP
    """
    _seed_everything(config.seed)
    device = torch.device(resolve_device(config.device))
    model, metadata = init or (build_classifier(config.encoder), ClassifierMetadata(config.encoder, config.image_size))
    model.to(device).train()
    augment = train_augmentations(config.image_size) if config.augment else None
    dataset = CachedFittedDataset(train_items, config.image_size, augment)
    loader = _training_loader(dataset, config)
    steps = len(loader) if config.max_steps_per_epoch is None else min(len(loader), config.max_steps_per_epoch)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    scheduler = _cosine_schedule(optimizer, config, steps)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    for epoch in range(1, config.epochs + 1):
        losses = []
        for step, batch in enumerate(loader):
            if step >= steps:
                break
            optimizer.zero_grad(set_to_none=True)
            logits = model(normalize(batch["image"]).to(device))
            loss = loss_fn(logits, image_labels(batch["label"]).to(device))
            if not torch.isfinite(loss):
                raise FloatingPointError(f"classifier loss became {loss.item()} at epoch {epoch}, step {step}")
            loss.backward()
            optimizer.step()
            scheduler.step()
            losses.append(loss.item())
        LOGGER.info("classifier epoch %d: loss %.4f", epoch, float(np.mean(losses)))
    recalibrate_batchnorm(model, _clean_batches(dataset, config, device), device)
    return ClassifierResult(model.eval(), metadata, _judge(model, val_items, config, device))


@torch.inference_mode()
def _judge(model, items, config: TrainConfig, device) -> dict:
    scores, labels = [], []
    for batch in DataLoader(CachedFittedDataset(items, config.image_size), batch_size=config.batch_size):
        scores += torch.sigmoid(model(normalize(batch["image"]).to(device))[:, 0]).tolist()
        labels += image_labels(batch["label"])[:, 0].bool().tolist()
    return image_level_metrics(scores, labels, 0.5)
