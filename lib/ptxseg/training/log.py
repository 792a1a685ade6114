"""What a training run leaves for people: history (CSV + JSON), TensorBoard scalars and a training-curve PNG."""

from __future__ import annotations

import csv
import json
from pathlib import Path

__all__ = ["TrainingLog", "plot_training_curve"]

CURVE_METRICS = ("per_image_dice", "pooled_dice", "pooled_iou")


class TrainingLog:
    """Records each epoch (``record`` is a ``train(on_epoch=...)`` callback) into ``out_dir``."""

    def __init__(self, out_dir: Path):
        from torch.utils.tensorboard import SummaryWriter

        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.history: list[dict] = []
        self.writer = SummaryWriter(str(self.out_dir / "tensorboard"))
        self.curve = self.out_dir / "training_curve.png"

    def record(self, epoch: dict) -> None:
        """Append one epoch's record and refresh the files (so an interrupted run still shows its curve)."""
        row = {key: value for key, value in epoch.items() if key not in ("best", "improved")}
        self.history.append(row)
        for key, value in row.items():
            if key != "epoch" and isinstance(value, (int, float)):
                self.writer.add_scalar(key, value, row["epoch"])
        self.writer.flush()
        (self.out_dir / "history.json").write_text(json.dumps(self.history, indent=1))
        with open(self.out_dir / "history.csv", "w", newline="") as stream:
            writer = csv.DictWriter(stream, fieldnames=list(row))
            writer.writeheader()
            writer.writerows(self.history)
        plot_training_curve(self.history, self.curve)

    def close(self) -> None:
        """Close the TensorBoard writer."""
        self.writer.close()


def plot_training_curve(history: list[dict], path: Path) -> Path:
    """Training loss and validation metrics per epoch, one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [row["epoch"] for row in history]
    figure, (loss_axis, metric_axis) = plt.subplots(1, 2, figsize=(10, 4))
    loss_axis.plot(epochs, [row["train_loss"] for row in history], marker="o")
    loss_axis.set(xlabel="epoch", ylabel="Dice + BCE loss", title="training loss")
    for name in CURVE_METRICS:
        values = [row.get(name) for row in history]
        metric_axis.plot(epochs, [v if v is not None else float("nan") for v in values], marker="o", label=name)
    metric_axis.set(xlabel="epoch", ylabel="validation", title="validation (eval mode)", ylim=(0, 1))
    metric_axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
