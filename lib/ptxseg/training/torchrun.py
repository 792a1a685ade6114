"""Run ``ptxseg train`` in several processes with ``torchrun`` (DDP) and read its result back.

Front ends that train in-process for one device (the MONAI Label trainer) use this for several GPUs, or several
CPU processes on gloo, so multi-process training has one implementation: the command line's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from ptxseg.model.checkpoint import load_checkpoint
from ptxseg.training.config import TrainConfig, TrainResult

__all__ = ["train_command", "run_distributed_training"]


def train_command(
    config: TrainConfig, data_specs: Sequence[str], val_ids: Path, out_dir: Path, processes: int, init: Path | None
) -> list[str]:
    """The ``torchrun ... -m ptxseg train`` command line that trains ``config`` on ``data_specs``.

    The training flags come from :meth:`TrainConfig.to_arguments`, so every field travels (none can be dropped).
    """
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes)]
    command += ["-m", "ptxseg", "train", "--out", str(out_dir), "--val-ids", str(val_ids)]
    for spec in data_specs:
        command += ["--data", spec]
    command += config.to_arguments()
    command += ["--init", str(init)] if init is not None else []
    return command


def run_distributed_training(
    config: TrainConfig,
    data_specs: Sequence[str],
    val_ids: Sequence[str],
    out_dir: Path,
    processes: int,
    init: Path | None = None,
    on_line: Callable[[str], None] = print,
) -> TrainResult:
    """Train with ``processes`` DDP ranks; every output line goes to ``on_line``; failures raise with the tail."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ids_file = out_dir / "val_ids.txt"
    ids_file.write_text("\n".join(val_ids) + "\n")
    command = train_command(config, data_specs, ids_file, out_dir, processes, init)
    tail: list[str] = []
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as process:
        for line in process.stdout:
            on_line(line.rstrip())
            tail = [*tail[-30:], line.rstrip()]
    if process.returncode != 0:
        raise RuntimeError(f"torchrun training failed (exit {process.returncode}):\n" + "\n".join(tail))
    history = json.loads((out_dir / "history.json").read_text())
    checkpoint = out_dir / "best.safetensors"
    best = load_checkpoint(checkpoint)[1].metrics if checkpoint.is_file() else {}
    epochs = history[-1]["epoch"] if history else 0
    return TrainResult(checkpoint if best else None, best, history, epochs, stopped_early=epochs < config.epochs)
