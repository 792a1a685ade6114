"""Mixed precision in training: fp16 on GPU, bf16 by default on CPUs with native bf16, fp32 when asked or elsewhere."""

import numpy as np
import torch

from ptxseg.datasets.labelled import LabelledImage
from ptxseg.io.writers import quantize, write_png
from ptxseg.phantom.synthetic import make_phantom
from ptxseg.training import loop
from ptxseg.training.config import TrainConfig
from ptxseg.training.loop import TrainingRun, mixed_precision_dtype


def test_the_autocast_type_follows_the_device_and_the_cpu(monkeypatch):
    monkeypatch.setattr(loop, "cpu_supports_bf16", lambda: True)
    assert mixed_precision_dtype(torch.device("cpu"), TrainConfig()) == torch.bfloat16  # the default where native
    assert mixed_precision_dtype(torch.device("cpu"), TrainConfig(cpu_bf16=False)) is None
    assert mixed_precision_dtype(torch.device("cuda"), TrainConfig()) == torch.float16
    assert mixed_precision_dtype(torch.device("cuda"), TrainConfig(amp=False)) is None
    monkeypatch.setattr(loop, "cpu_supports_bf16", lambda: False)
    assert mixed_precision_dtype(torch.device("cpu"), TrainConfig()) is None  # emulated: only slower


def _items(folder, count):
    items = []
    for seed in range(count):
        phantom = make_phantom(size=64, positive=seed % 2 == 0, seed=seed)
        items.append(
            LabelledImage(f"p{seed}", write_png(quantize(phantom.image), folder / f"p{seed}.png"), phantom.mask)
        )
    return items


def test_a_bf16_cpu_step_trains_channels_last_without_loss_scaling(tmp_path, monkeypatch):
    monkeypatch.setattr(loop, "cpu_supports_bf16", lambda: True)
    items = _items(tmp_path, 6)
    config = TrainConfig(
        image_size=64, batch_size=2, epochs=1, encoder="efficientnet-b0", device="cpu", augment=False, cpu_bf16=True
    )
    run = TrainingRun(items[:4], items[4:], config, init_checkpoint=None)
    before = [parameter.detach().clone() for parameter in run.model.parameters()][:3]

    losses, _, cancelled = run.train_epoch(None, progress=False)

    assert run.amp_dtype == torch.bfloat16 and not run.scaler.is_enabled()
    assert run.model.encoder._conv_stem.weight.is_contiguous(memory_format=torch.channels_last)
    assert not cancelled and len(losses) == 2 and all(np.isfinite(losses))
    after = list(run.model.parameters())[:3]
    assert any(not torch.equal(old, new) for old, new in zip(before, after, strict=True))
    assert all(parameter.dtype == torch.float32 for parameter in run.model.parameters())  # autocast, not a cast
