"""Several runtimes as one: the SIIM 1st place's probability averaging, with horizontal-flip TTA.

The average is taken over probabilities (as the winners did), not logits; the result is handed back as logits
(the log-odds of the average) so that it is one more runtime: the ``Predictor``, its post-processing, flip
uncertainty, scoring, evaluation and comparison all work on an ensemble unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import expit, logit

from ptxseg.inference.runtimes import InferenceBackend

__all__ = ["EnsembleBackend"]

# Probabilities are clipped before the log-odds so that a unanimous 0 or 1 stays finite in float32.
_EPSILON = 1e-6


class EnsembleBackend:
    """Mean probability of every member (and of each member's mirrored view when ``hflip``), as logits.

    Example:
        >>> half = EnsembleBackend([lambda b: np.full_like(b, -50.0), lambda b: np.full_like(b, 50.0)], hflip=False)
        >>> float(expit(half(np.zeros((1, 1, 2, 2), np.float32))).round(3).max())
        0.5
        >>> half.name
        'ensemble(2 x function, hflip off)'
    """

    def __init__(self, members: Sequence[InferenceBackend], hflip: bool = True):
        if not members:
            raise ValueError("an ensemble needs at least one member runtime")
        self.members = list(members)
        self.hflip = hflip
        kinds = sorted({getattr(member, "name", type(member).__name__) for member in self.members})
        self.name = f"ensemble({len(self.members)} x {'+'.join(kinds)}, hflip {'on' if hflip else 'off'})"

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """Logits (N, 1, S, S) of the averaged probability for a normalised batch (N, 1, S, S)."""
        views = [batch, np.ascontiguousarray(batch[..., ::-1])] if self.hflip else [batch]
        total = np.zeros(batch.shape, np.float64)
        for member in self.members:
            for index, view in enumerate(views):
                probability = expit(member(view).astype(np.float64))
                total += probability[..., ::-1] if index else probability
        mean = total / (len(self.members) * len(views))
        return logit(np.clip(mean, _EPSILON, 1 - _EPSILON)).astype(np.float32)
