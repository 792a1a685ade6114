"""The paper's training recipe as one function, shared by ``ptxseg train`` and the MONAI Label trainer.

U-Net + EfficientNet-B4 at 512x512, Dice+BCE, heavy augmentation, Adam 1e-4 with cosine decay to 1e-6, early
stopping on validation IoU. Runs single-process or under ``torchrun`` (PyTorch DDP: NCCL on GPU, gloo on CPU):
data sharded by rank, metrics reduced across ranks, only rank 0 writes.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, DistributedSampler, Subset

from . import distributed
from .backends import resolve_device
from .checkpoint import CheckpointMetadata, load_model, save_checkpoint
from .data import CachedFittedDataset, LabelledImage
from .losses import DiceBCELoss
from .model import build_model, recalibrate_batchnorm
from .transforms import normalize, train_augmentations
from .validate import ValidationResult, validate

__all__ = ["TrainConfig", "TrainResult", "train"]

LOGGER = logging.getLogger(__name__)
MONITORED_METRICS = ("pooled_iou", "pooled_dice", "per_image_dice")


@dataclass
class TrainConfig:
    """Every training knob, with the paper's values as defaults. Unknown keys are rejected by ``from_dict``."""

    image_size: int = 512
    batch_size: int = 32
    epochs: int = 300
    learning_rate: float = 1e-4
    min_learning_rate: float = 1e-6
    patience: int = 20
    monitor: str = "pooled_iou"
    dice_weight: float = 1.0
    bce_weight: float = 1.0
    augment: bool = True
    amp: bool = True
    device: str = "auto"
    num_workers: int = 0
    seed: int = 0
    max_steps_per_epoch: int | None = None
    bn_recalibration_batches: int = 8
    threshold: float = 0.5
    encoder: str = "efficientnet-b4"
    encoder_weights: str | None = None

    def __post_init__(self):
        positive = ("image_size", "batch_size", "epochs", "patience")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.image_size % 32:
            raise ValueError(
                f"image_size must be divisible by 32 (the encoder downsamples 5 times), got {self.image_size}"
            )
        if not 0 < self.learning_rate or not 0 <= self.min_learning_rate <= self.learning_rate:
            raise ValueError("need 0 < learning_rate and 0 <= min_learning_rate <= learning_rate")
        if self.monitor not in MONITORED_METRICS:
            raise ValueError(f"monitor must be one of {', '.join(MONITORED_METRICS)}, got {self.monitor!r}")
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"threshold must lie strictly between 0 and 1, got {self.threshold}")
        if self.num_workers < 0:
            raise ValueError(f"num_workers must be >= 0, got {self.num_workers}")

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        """Build from a plain dict, refusing unknown keys (a typo must not silently train with a default)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown training option(s) {unknown}; valid: {sorted(known)}")
        return cls(**values)


@dataclass
class TrainResult:
    """What a training run produced: the best checkpoint (rank 0), its metrics, and the per-epoch history."""

    checkpoint: Path | None
    best_metrics: dict
    history: list[dict] = field(default_factory=list)
    epochs_run: int = 0
    stopped_early: bool = False
    cancelled: bool = False


def _seed_everything(seed: int) -> None:
    np.random.seed(seed)
    torch.manual_seed(seed)


def _cosine_schedule(optimizer, config: TrainConfig, steps_per_epoch: int):
    total = max(1, config.epochs * steps_per_epoch)
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total, eta_min=config.min_learning_rate)


def _initial_model(config: TrainConfig, init_checkpoint: Path | None) -> tuple[torch.nn.Module, CheckpointMetadata]:
    if init_checkpoint is not None:
        model, metadata = load_model(init_checkpoint)
        if metadata.image_size != config.image_size:
            LOGGER.warning("fine-tuning a %d px model at %d px", metadata.image_size, config.image_size)
        return model, metadata
    model = build_model(config.encoder, encoder_weights=config.encoder_weights)
    return model, CheckpointMetadata(encoder=config.encoder, image_size=config.image_size)


def _training_loader(dataset, config: TrainConfig) -> DataLoader:
    sampler = DistributedSampler(dataset, seed=config.seed) if distributed.world_size() > 1 else None
    generator = torch.Generator().manual_seed(config.seed)
    return DataLoader(
        dataset,
        batch_size=min(config.batch_size, len(dataset)),
        shuffle=sampler is None,
        sampler=sampler,
        num_workers=config.num_workers,
        drop_last=len(dataset) >= config.batch_size,
        generator=generator,
        persistent_workers=config.num_workers > 0,
    )


def _clean_batches(dataset: CachedFittedDataset, config: TrainConfig, device) -> list[torch.Tensor]:
    """Un-augmented training images for re-estimating BatchNorm statistics (see DESIGN: momentum trap)."""
    count = min(len(dataset), config.batch_size * config.bn_recalibration_batches)
    clean = CachedFittedDataset.from_samples(dataset.samples[:count])
    loader = DataLoader(clean, batch_size=min(config.batch_size, count))
    return [normalize(batch["image"]).to(device) for batch in loader]


def _monitored_score(metrics: dict, monitor: str) -> float:
    """The early-stopping score; a validation set without any pneumothorax leaves pooled ratios undefined, and
    then the per-image Dice (defined for empty masks) decides, with a warning."""
    if metrics[monitor] is not None:
        return metrics[monitor]
    LOGGER.warning("%s is undefined (no pneumothorax in validation truth or prediction); using per_image_dice", monitor)
    return metrics["per_image_dice"]


def train(
    train_items: Sequence[LabelledImage],
    val_items: Sequence[LabelledImage],
    config: TrainConfig,
    out_dir: Path,
    init_checkpoint: Path | None = None,
    data_summary: dict | None = None,
    on_epoch: Callable[[dict], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Train (or fine-tune from ``init_checkpoint``) and keep the best checkpoint by validation ``config.monitor``.

    Every model is judged in eval mode after its BatchNorm statistics are re-estimated on clean training images,
    never by training loss. ``should_stop`` is polled between steps: a cancelled run returns its best so far.

    Example:
        >>> result = train(train_items, val_items, TrainConfig(epochs=1), Path("runs/x"))  # doctest: +SKIP
        >>> result.checkpoint, result.best_metrics["per_image_dice"]  # doctest: +SKIP
    """
    if not train_items:
        raise ValueError("no labelled training images: label some images first (labels/final) or check --data")
    if not val_items:
        raise ValueError("no validation images: training needs a validation split to judge the model")
    _seed_everything(config.seed)
    device = torch.device(resolve_device(config.device))
    out_dir = Path(out_dir)
    is_writer = distributed.rank() == 0
    model, metadata = _initial_model(config, init_checkpoint)
    model.to(device)
    use_amp = config.amp and device.type == "cuda"
    if use_amp:
        model = model.to(memory_format=torch.channels_last)
    trainable = distributed.wrap_model(model, device)
    augment = train_augmentations(config.image_size) if config.augment else None
    train_set = CachedFittedDataset(train_items, config.image_size, augment)
    val_set = CachedFittedDataset(val_items, config.image_size)
    loader = _training_loader(train_set, config)
    steps_per_epoch = (
        len(loader) if config.max_steps_per_epoch is None else min(len(loader), config.max_steps_per_epoch)
    )
    optimizer = torch.optim.Adam(trainable.parameters(), lr=config.learning_rate)
    scheduler = _cosine_schedule(optimizer, config, steps_per_epoch)
    scaler = torch.amp.GradScaler(enabled=use_amp)
    loss_fn = DiceBCELoss(dice_weight=config.dice_weight, bce_weight=config.bce_weight)
    val_shard = Subset(val_set, distributed.shard_indices(len(val_set)))

    best_score, best_metrics, best_path = -math.inf, {}, None
    history: list[dict] = []
    epochs_without_gain, cancelled, epoch = 0, False, 0
    for epoch in range(1, config.epochs + 1):
        started = time.perf_counter()
        if isinstance(loader.sampler, DistributedSampler):
            loader.sampler.set_epoch(epoch)
        trainable.train()
        losses, data_wait = [], 0.0
        fetched = time.perf_counter()
        for step, batch in enumerate(loader):
            if step >= steps_per_epoch:
                break
            data_wait += time.perf_counter() - fetched
            images = normalize(batch["image"]).to(device, non_blocking=True)
            labels = batch["label"].to(device, non_blocking=True)
            if use_amp:
                images = images.contiguous(memory_format=torch.channels_last)
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
                loss = loss_fn(trainable(images), labels)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"training loss became {loss.item()} at epoch {epoch}, step {step}")
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            losses.append(loss.item())
            fetched = time.perf_counter()
            if should_stop is not None and should_stop():
                cancelled = True
                break
        if cancelled:
            break
        recalibrate_batchnorm(model, _clean_batches(train_set, config, device), device)
        distributed.broadcast_buffers(model)
        result: ValidationResult = validate(model, val_shard, device, config.threshold, config.batch_size)
        metrics = distributed.reduce_validation(result).as_dict()
        elapsed = time.perf_counter() - started
        record = {
            "epoch": epoch,
            "train_loss": float(distributed.mean_across_ranks(np.mean(losses))),
            "learning_rate": optimizer.param_groups[0]["lr"],
            "seconds": round(elapsed, 2),
            "data_wait_share": round(data_wait / elapsed, 3) if elapsed else 0.0,
            **metrics,
        }
        history.append(record)
        score = _monitored_score(metrics, config.monitor)
        improved = score > best_score
        if improved:
            best_score, best_metrics, epochs_without_gain = score, metrics, 0
            if is_writer:
                best_path = out_dir / "best.safetensors"
                metadata.update(
                    image_size=config.image_size,
                    metrics=metrics,
                    training_data=data_summary or {"train": len(train_items), "validation": len(val_items)},
                    postprocess={"kind": "threshold", "threshold": config.threshold, "min_area": 0},
                )
                save_checkpoint(best_path, model, metadata)
        else:
            epochs_without_gain += 1
        LOGGER.info("epoch %d: %s", epoch, {k: v for k, v in record.items() if k != "epoch"})
        if on_epoch is not None and is_writer:
            on_epoch({**record, "improved": improved, "best": best_metrics})
        if epochs_without_gain >= config.patience:
            return TrainResult(best_path, best_metrics, history, epoch, stopped_early=True)
    return TrainResult(best_path, best_metrics, history, epoch if not cancelled else epoch - 1, cancelled=cancelled)
