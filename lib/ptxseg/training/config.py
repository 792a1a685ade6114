"""TrainConfig, the one source of training options (defaults, checks), and TrainResult."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ptxseg.model.network import check_dropout, check_input_side

__all__ = ["MONITORED_METRICS", "TrainConfig", "TrainResult"]

MONITORED_METRICS = ("pooled_iou", "pooled_dice", "per_image_dice")


@dataclass
class TrainConfig:
    """Every training knob, with the paper's values as defaults; values are checked when the config is made."""

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
    dropout: float = 0.0

    def __post_init__(self):
        check_input_side(self.image_size)
        for name in ("batch_size", "epochs", "patience"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 < self.learning_rate or not 0 <= self.min_learning_rate <= self.learning_rate:
            raise ValueError("need 0 < learning_rate and 0 <= min_learning_rate <= learning_rate")
        if self.monitor not in MONITORED_METRICS:
            raise ValueError(f"monitor must be one of {', '.join(MONITORED_METRICS)}, got {self.monitor!r}")
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"threshold must lie strictly between 0 and 1, got {self.threshold}")
        if self.num_workers < 0:
            raise ValueError(f"num_workers must be >= 0, got {self.num_workers}")
        check_dropout(self.dropout)


@dataclass
class TrainResult:
    """What a training run produced: the best checkpoint (rank 0), its metrics, and the per-epoch history."""

    checkpoint: Path | None
    best_metrics: dict
    history: list[dict] = field(default_factory=list)
    epochs_run: int = 0
    stopped_early: bool = False
    cancelled: bool = False
