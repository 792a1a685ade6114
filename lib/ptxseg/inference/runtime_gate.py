"""The accuracy gate: a faster runtime is served only after it agrees with the PyTorch fp32 reference.

Agreement is judged on held-out model inputs the way a user would see a difference: the Dice of the thresholded
masks, pooled over the images (two empty masks agree), and the largest change of the image-level probability that
flags a study for triage. The defaults are the project's rule (mask Dice >= 0.99) and a tolerance of 0.02 on the
probability, a fifth of the 0.1 steps the triage threshold is set in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from ptxseg.transforms.postprocess import ThresholdPostprocess, pneumothorax_score

__all__ = ["MIN_MASK_DICE", "PROBABILITY_TOLERANCE", "GateResult", "gate_runtime"]

MIN_MASK_DICE = 0.99
PROBABILITY_TOLERANCE = 0.02


@dataclass(frozen=True)
class GateResult:
    """How a candidate runtime compares with the reference on the gate's inputs, and the verdict."""

    runtime: str
    passed: bool
    mask_dice: float
    max_probability_difference: float
    images: int

    @property
    def reason(self) -> str:
        """One line for the log and ``/info``.

        Example:
            >>> GateResult("openvino-int8-bf16", False, 0.91, 0.04, 8).reason
            'openvino-int8-bf16 refused: mask Dice 0.9100 < 0.99 or |dp| 0.0400 > 0.02 against fp32 on 8 images'
        """
        verdict = "agrees" if self.passed else "refused"
        relation = (">=", "<=") if self.passed else ("<", ">")
        joiner = "and" if self.passed else "or"
        return (
            f"{self.runtime} {verdict}: mask Dice {self.mask_dice:.4f} {relation[0]} {MIN_MASK_DICE:g} {joiner} "
            f"|dp| {self.max_probability_difference:.4f} {relation[1]} {PROBABILITY_TOLERANCE:g} against fp32 on "
            f"{self.images} images"
        )


def gate_runtime(
    reference,
    candidate,
    inputs: Sequence[np.ndarray],
    postprocess=None,
    min_mask_dice: float = MIN_MASK_DICE,
    probability_tolerance: float = PROBABILITY_TOLERANCE,
) -> GateResult:
    """Run both runtimes on ``inputs`` (normalised (1, 1, S, S) arrays) and judge the candidate.

    Example:
        >>> import numpy as np
        >>> reference = lambda batch: batch * 10.0
        >>> inputs = [np.random.default_rng(0).normal(size=(1, 1, 8, 8)).astype(np.float32)]
        >>> gate_runtime(reference, reference, inputs).passed
        True
        >>> broken = lambda batch: -batch * 10.0
        >>> gate_runtime(reference, broken, inputs).passed
        False
    """
    if not inputs:
        raise ValueError("the accuracy gate needs held-out inputs; without them no faster runtime can be trusted")
    postprocess = postprocess or ThresholdPostprocess()
    overlap = total = 0
    worst = 0.0
    for batch in inputs:
        expected = expit(np.asarray(reference(batch), np.float32)[:, 0])
        actual = expit(np.asarray(candidate(batch), np.float32)[:, 0])
        for want, got in zip(expected, actual, strict=True):
            want_mask, got_mask = postprocess(want), postprocess(got)
            overlap += 2 * int(np.logical_and(want_mask, got_mask).sum())
            total += int(want_mask.sum()) + int(got_mask.sum())
            worst = max(worst, abs(pneumothorax_score(want) - pneumothorax_score(got)))
    dice = 1.0 if total == 0 else overlap / total
    passed = dice >= min_mask_dice and worst <= probability_tolerance
    name = getattr(candidate, "name", type(candidate).__name__)
    return GateResult(name, passed, float(dice), float(worst), len(inputs))
