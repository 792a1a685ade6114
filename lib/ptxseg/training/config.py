"""TrainConfig, the one source of training options (defaults, checks, command-line flags), and TrainResult.

Each field carries its command-line flag and help in its metadata: ``ptxseg train``'s parser and the ``torchrun``
command that front ends launch are both derived from it, so a new option is one new field and cannot be forgotten
by either.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field, fields
from pathlib import Path

from ptxseg.options import check_at_least, check_probability
from ptxseg.options.flags import add_flags, flag_option, from_flags
from ptxseg.options.values import check_dropout, check_input_side

# The ensemble recipe's members: the published B4 plus two smaller EfficientNets (different receptive fields disagree
# where a single model guesses). Here, not in ``recipes``: the command line's parser needs them without torch.
DEFAULT_ENSEMBLE = ("efficientnet-b4", "efficientnet-b2", "efficientnet-b0")

__all__ = ["DEFAULT_ENSEMBLE", "MONITORED_METRICS", "TrainConfig", "TrainResult"]

MONITORED_METRICS = ("pooled_iou", "pooled_dice", "per_image_dice")


@dataclass
class TrainConfig:
    """Every training knob, with the paper's values as defaults; values are checked when the config is made.

    Example:
        >>> config = TrainConfig(epochs=5, augment=False)
        >>> config.to_arguments()[:4]
        ['--image-size', '512', '--batch-size', '32']
        >>> parser = argparse.ArgumentParser()
        >>> TrainConfig.add_arguments(parser)
        >>> TrainConfig.from_arguments(parser.parse_args(config.to_arguments())) == config
        True
    """

    image_size: int = flag_option(512, "--image-size", "model input side (multiple of 32)")
    batch_size: int = flag_option(32, "--batch-size", "batch size (under torchrun: the global batch)")
    epochs: int = flag_option(300, "--epochs", "maximum epochs (early stopping may end sooner)")
    learning_rate: float = flag_option(1e-4, "--lr", "initial learning rate (cosine decay)")
    min_learning_rate: float = flag_option(1e-6, "--min-lr", "learning rate at the end of the cosine decay")
    patience: int = flag_option(20, "--patience", "early stopping: epochs without improvement")
    # Not "--monitor": torchrun would read that as an abbreviation of its own --monitor-interval.
    monitor: str = flag_option(
        "pooled_iou",
        "--monitor-metric",
        "validation metric for early stopping and the best checkpoint (default: pooled_iou, as the paper)",
        choices=MONITORED_METRICS,
    )
    dice_weight: float = flag_option(1.0, "--dice-weight", "weight of the Dice term of the loss")
    bce_weight: float = flag_option(1.0, "--bce-weight", "weight of the BCE term of the loss")
    augment: bool = flag_option(True, "--no-augment", "switch the heavy augmentation off")
    amp: bool = flag_option(True, "--no-amp", "full fp32 on GPU")
    cpu_bf16: bool = flag_option(
        True,
        "--no-cpu-bf16",
        "full fp32 on a CPU with native bf16 (AVX-512 BF16, AMX), where bf16 autocast + channels_last is the default;"
        " other CPUs always train in fp32",
    )
    device: str = flag_option("auto", "--device", "auto | cpu | cuda[:N]")
    num_workers: int = flag_option(0, "--workers", "data loader worker processes")
    seed: int = flag_option(0, "--seed", "seed of the split, initialisation and sampling")
    max_steps_per_epoch: int | None = flag_option(
        None, "--max-steps-per-epoch", "cap the steps of each epoch (smoke tests)"
    )
    bn_recalibration_batches: int = flag_option(
        8, "--bn-recalibration-batches", "clean batches that re-estimate BatchNorm statistics after training"
    )
    threshold: float = flag_option(0.5, "--threshold", "probability threshold for validation masks")
    encoder: str = flag_option("efficientnet-b4", "--encoder", "efficientnet-b0 ... b7")
    encoder_weights: str | None = flag_option(
        None, "--encoder-weights", "local ImageNet weights file for the encoder (no download)"
    )
    dropout: float = flag_option(
        0.0,
        "--dropout",
        "decoder dropout of a new model (> 0 allows MC-dropout uncertainty); with --init the checkpoint's is kept",
    )

    def __post_init__(self):
        check_input_side(self.image_size)
        for name in ("batch_size", "epochs", "patience"):
            check_at_least(name, getattr(self, name), 1)
        if not 0 < self.learning_rate or not 0 <= self.min_learning_rate <= self.learning_rate:
            raise ValueError("need 0 < learning_rate and 0 <= min_learning_rate <= learning_rate")
        if self.monitor not in MONITORED_METRICS:
            raise ValueError(f"monitor must be one of {', '.join(MONITORED_METRICS)}, got {self.monitor!r}")
        check_probability("threshold", self.threshold)
        check_at_least("num_workers", self.num_workers, 0)
        check_at_least("bn_recalibration_batches", self.bn_recalibration_batches, 0)
        check_dropout(self.dropout)

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Add one flag per field, with the field's default and help (see the class example)."""
        add_flags(cls, parser)

    @classmethod
    def from_arguments(cls, args: argparse.Namespace) -> TrainConfig:
        """The config a parsed command line describes (flags added by :meth:`add_arguments`)."""
        return from_flags(cls, args)

    def to_arguments(self) -> list[str]:
        """The flags that reproduce this config on ``ptxseg train``'s command line (for ``torchrun``)."""
        arguments = []
        for item in fields(self):
            value = getattr(self, item.name)
            if item.type == "bool":
                arguments += [item.metadata["flag"]] if value != item.default else []
            elif value is not None:
                arguments += [item.metadata["flag"], str(value)]
        return arguments


@dataclass
class TrainResult:
    """What a training run produced: the best checkpoint (rank 0), its metrics, and the per-epoch history."""

    checkpoint: Path | None
    best_metrics: dict
    history: list[dict] = field(default_factory=list)
    epochs_run: int = 0
    stopped_early: bool = False
    cancelled: bool = False
