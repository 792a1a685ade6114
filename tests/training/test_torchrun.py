"""The torchrun command and ``ptxseg train``'s flags both come from TrainConfig: no option can be dropped."""

from dataclasses import fields
from pathlib import Path

from ptxseg.cli.main import build_parser
from ptxseg.training.config import TrainConfig
from ptxseg.training.torchrun import train_command

# A value other than the default for every field, so a dropped flag shows as a default coming back.
CHANGED = {
    "image_size": 256,
    "batch_size": 6,
    "epochs": 7,
    "learning_rate": 3e-4,
    "min_learning_rate": 2e-6,
    "patience": 4,
    "monitor": "per_image_dice",
    "dice_weight": 0.5,
    "bce_weight": 2.0,
    "augment": False,
    "amp": False,
    "cpu_bf16": False,
    "device": "cpu",
    "num_workers": 2,
    "seed": 11,
    "max_steps_per_epoch": 3,
    "bn_recalibration_batches": 2,
    "threshold": 0.4,
    "encoder": "efficientnet-b0",
    "encoder_weights": "weights.pth",
    "dropout": 0.2,
}


def test_every_field_is_changed_here():
    assert set(CHANGED) == {item.name for item in fields(TrainConfig)}
    assert all(getattr(TrainConfig(), name) != value for name, value in CHANGED.items())


def test_the_torchrun_command_reproduces_the_config_on_ptxseg_train():
    config = TrainConfig(**CHANGED)
    command = train_command(config, ["monailabel:/studies"], Path("ids.txt"), Path("run"), 2, Path("init.safetensors"))

    assert command[command.index("--nproc_per_node") + 1] == "2"
    arguments = build_parser().parse_args(command[command.index("train") :])
    assert TrainConfig.from_arguments(arguments) == config
    assert (arguments.data, arguments.val_ids, arguments.out, arguments.init) == (
        ["monailabel:/studies"],
        "ids.txt",
        "run",
        "init.safetensors",
    )


def test_defaults_travel_as_defaults():
    arguments = build_parser().parse_args(["train", "--data", "ptx498:x", "--out", "o", *TrainConfig().to_arguments()])
    assert TrainConfig.from_arguments(arguments) == TrainConfig()
    plain = build_parser().parse_args(["train", "--data", "ptx498:x", "--out", "o"])
    assert TrainConfig.from_arguments(plain) == TrainConfig()
