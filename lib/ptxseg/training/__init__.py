"""Training: TrainConfig (the one source of training options), the loop, augmentation, losses, validation during
training, the torchrun launcher and the run's log.
"""

from ptxseg import lazy_exports

_EXPORTS = {
    "TrainConfig": "config",
    "TrainResult": "config",
    "train": "loop",
    "train_augmentations": "augment",
    "DiceBCELoss": "losses",
    "validate": "validate",
    "evaluate_checkpoint": "validate",
    "run_distributed_training": "torchrun",
    "train_command": "torchrun",
    "TrainingLog": "log",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
