"""TrainConfig (the one source of training options), the training loop, augmentation, losses, validation, torchrun.

Each module is one step; this package names the public functions of all of them.
"""

from ptxseg.training.augment import train_augmentations
from ptxseg.training.config import MONITORED_METRICS, TrainConfig, TrainResult
from ptxseg.training.log import TrainingLog, plot_training_curve
from ptxseg.training.loop import TrainingRun, train
from ptxseg.training.losses import DiceBCELoss
from ptxseg.training.torchrun import run_distributed_training, train_command
from ptxseg.training.validate import ValidationResult, evaluate_checkpoint, probability_batches, validate

__all__ = [
    "train_augmentations",
    "MONITORED_METRICS",
    "TrainConfig",
    "TrainResult",
    "TrainingLog",
    "plot_training_curve",
    "TrainingRun",
    "train",
    "DiceBCELoss",
    "train_command",
    "run_distributed_training",
    "ValidationResult",
    "validate",
    "probability_batches",
    "evaluate_checkpoint",
]
