"""How unsure the model is about an image, in [0, 1]: flip-TTA disagreement or Monte-Carlo dropout variance.

Both are 0 when the model's views of an image agree and grow as they diverge. Flip-TTA (the default) runs any
runtime twice, as is and mirrored: a model that has learnt an image's pneumothorax segments it the same way
mirrored; one that guesses does not. MC dropout needs a PyTorch model trained with decoder dropout (``dropout`` >
0) and draws ``samples`` maps with that dropout left on. Only the decoder is sampled: the encoder has no dropout,
so it runs once per image, not once per sample.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch import nn

from ptxseg.inference.predictor import Predictor
from ptxseg.model.checkpoint import CheckpointMetadata, load_model
from ptxseg.model.network import enable_mc_dropout
from ptxseg.transforms.intensity import normalize

__all__ = [
    "Uncertainty",
    "FlipUncertainty",
    "DropoutSampler",
    "McDropoutUncertainty",
    "disagreement",
    "require_dropout",
]


class Uncertainty(Protocol):
    """Maps fitted images (N, S, S) and the model's probability maps of them to N uncertainties in [0, 1]."""

    method: str

    def __call__(self, fitted: np.ndarray, maps: np.ndarray) -> list[float]: ...


def disagreement(first: np.ndarray, second: np.ndarray) -> float:
    """Soft disagreement of two probability maps of one image, in [0, 1].

    The sum of absolute differences over the soft union (plus one pixel, so two confident empty maps give 0,
    not 0/0): 0 when both maps agree, near 1 when their foregrounds do not overlap.

    Example:
        >>> a = np.zeros((4, 4)); b = a.copy(); a[0, :2] = 1; b[3, 2:] = 1
        >>> round(disagreement(a, b), 3)
        0.8
    """
    difference = float(np.abs(first - second).sum())
    union = float(np.maximum(first, second).sum())
    return difference / (union + 1.0)


class FlipUncertainty:
    """Disagreement of the model with itself under a horizontal flip (one extra pass of any runtime)."""

    method = "flip-TTA"

    def __init__(self, predictor: Predictor):
        self.predictor = predictor

    def __call__(self, fitted: np.ndarray, maps: np.ndarray) -> list[float]:
        """Uncertainty of each fitted image, given its probability map as is."""
        mirrored = self.predictor.probability_maps(np.ascontiguousarray(fitted[:, :, ::-1]))[:, :, ::-1]
        return [disagreement(plain, flipped) for plain, flipped in zip(maps, mirrored, strict=True)]


class DropoutSampler:
    """``samples`` probability maps per image from a PyTorch model whose dropout stays on.

    Draws are seeded (the same batch gives the same draws, so cached scores are reproducible) and leave the
    global random state untouched; seeding the global generator is why calls run one at a time.

    Example:
        >>> from ptxseg.model.network import build_architecture
        >>> sampler = DropoutSampler(build_architecture("efficientnet-b0", dropout=0.2), samples=4)
        >>> sampler(np.zeros((2, 1, 64, 64), np.float32)).shape
        (4, 2, 64, 64)
    """

    def __init__(self, model: nn.Module, samples: int, device: str = "cpu", seed: int = 0, reuse_encoder: bool = True):
        if samples < 2:
            raise ValueError(f"MC dropout needs at least 2 samples to disagree, got {samples}")
        self.model = enable_mc_dropout(model.to(device))
        self.samples = samples
        self.device = torch.device(device)
        self.seed = seed
        # Same draws either way (the encoder consumes no randomness); False is the slower baseline benchmarks use.
        self.decoder_only = reuse_encoder and _dropout_only_in_decoder(self.model)
        self._lock = threading.Lock()

    @torch.inference_mode()
    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """Probabilities (samples, N, S, S) for a normalised batch (N, 1, S, S)."""
        tensor = torch.from_numpy(np.ascontiguousarray(batch, np.float32)).to(self.device)
        devices = [self.device] if self.device.type == "cuda" else []
        with self._lock, torch.random.fork_rng(devices=devices):
            torch.manual_seed(self.seed)
            if self.decoder_only:
                features = self.model.encoder(tensor)
                draws = [self._decode(features) for _ in range(self.samples)]
            else:
                draws = [self.model(tensor) for _ in range(self.samples)]
        return torch.sigmoid(torch.stack(draws)[:, :, 0]).float().cpu().numpy()

    def _decode(self, features: list[torch.Tensor]) -> torch.Tensor:
        return self.model.segmentation_head(self.model.decoder(features, self.model.skip_connect))


def _dropout_only_in_decoder(model: nn.Module) -> bool:
    """Whether every active dropout lies in a FlexibleUNet's decoder, so the encoder's output can be reused."""
    if not all(hasattr(model, part) for part in ("encoder", "decoder", "segmentation_head", "skip_connect")):
        return False
    decoder = set(map(id, model.decoder.modules()))
    return all(
        id(module) in decoder
        for module in model.modules()
        if isinstance(module, nn.modules.dropout._DropoutNd) and module.training
    )


def require_dropout(metadata: CheckpointMetadata | None, name: str) -> None:
    """Refuse, saying what to do, a model that MC dropout cannot sample (metadata None: a bare state dict)."""
    if metadata is None or metadata.dropout <= 0:
        raise ValueError(
            f"MC dropout needs a model with dropout; {name} has none (trained with dropout 0). Train one with "
            "dropout > 0 (ptxseg train --dropout 0.2, or the app's --conf dropout 0.2 for a new model) or use "
            "flip-TTA uncertainty (mc_samples 0)"
        )


class McDropoutUncertainty:
    """The predictive variance of the dropout draws relative to the predicted area: the spread of the model's belief.

    Per image: the per-pixel variance across draws, summed, over the summed mean probability plus one pixel. It is 0
    when every draw agrees and stays below 1 (a pixel's variance never exceeds its mean probability). Measured on
    phantoms (five study sets, models trained with dropout 0.1 and 0.3), the top quarter it ranks had a lower Dice
    than a random pick in 10 of 10 cases; the draws' mean disagreement, dominated by faint background noise on
    empty images, managed 7 of 10.
    """

    method = "MC dropout"

    def __init__(self, sampler: DropoutSampler):
        self.sampler = sampler

    @classmethod
    def from_checkpoint(cls, path: str | Path, samples: int, device: str = "cpu") -> McDropoutUncertainty:
        """Load a checkpoint trained with dropout; a model without dropout is a ValueError saying what to do."""
        model, metadata = load_model(path)
        require_dropout(metadata, Path(path).name)
        return cls(DropoutSampler(model, samples, device))

    def __call__(self, fitted: np.ndarray, maps: np.ndarray) -> list[float]:
        """Uncertainty of each fitted image (``maps``, the deterministic prediction, is not needed here)."""
        draws = self.sampler(normalize(np.asarray(fitted, np.float32))[:, None])
        variance = draws.var(axis=0).sum(axis=(1, 2))
        area = draws.mean(axis=0).sum(axis=(1, 2))
        return [float(value) for value in variance / (area + 1.0)]
