"""Whether a model may flag studies for worklist triage: its image-level sensitivity and specificity, measured on
enough held-out labelled images of both classes, meet configured minimums.

A model fine-tuned on 3 images (validation Dice 0.19) once replaced the untrained one and flagged every study. So
the qualification is measured when a model is promoted, stored in its checkpoint metadata (``metrics["triage"]``)
and read back wherever flags are made; a model without it is "not qualified for triage": its results are still
computed and shown, never presented as flags.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass

from ptxseg.evaluation.metrics import image_level_metrics
from ptxseg.io.seg import NOT_QUALIFIED
from ptxseg.options import check_at_least

__all__ = [
    "METRICS_KEY",
    "NOT_QUALIFIED",
    "TriageCriteria",
    "TriageQualification",
    "qualify",
    "qualify_checkpoint",
    "recorded_qualification",
]

METRICS_KEY = "triage"


@dataclass(frozen=True)
class TriageCriteria:
    """The bar a model must clear: at least ``min_positives`` and ``min_negatives`` held-out images, and
    sensitivity and specificity at the triage threshold of at least the given minimums.

    Example:
        >>> TriageCriteria(min_positives=0)
        Traceback (most recent call last):
        ValueError: min_positives must be >= 1, got 0
    """

    min_positives: int = 20
    min_negatives: int = 20
    min_sensitivity: float = 0.8
    min_specificity: float = 0.8

    def __post_init__(self) -> None:
        check_at_least("min_positives", self.min_positives, 1)
        check_at_least("min_negatives", self.min_negatives, 1)
        for name in ("min_sensitivity", "min_specificity"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {getattr(self, name)}")


@dataclass(frozen=True)
class TriageQualification:
    """The measured result: ``qualified`` and, whatever it is, ``reason`` in words for /info, the worklist, Slicer."""

    qualified: bool
    reason: str
    sensitivity: float | None = None
    specificity: float | None = None
    positives: int = 0
    negatives: int = 0
    threshold: float | None = None

    def to_dict(self) -> dict:
        """JSON-ready form, as stored in the checkpoint's metrics."""
        return asdict(self)


def qualify(
    scores: Iterable[float], labels: Iterable[bool], threshold: float, criteria: TriageCriteria
) -> TriageQualification:
    """Measure a model's image-level scores on held-out labelled images against ``criteria``.

    Example:
        >>> criteria = TriageCriteria(min_positives=2, min_negatives=2, min_sensitivity=0.5, min_specificity=0.5)
        >>> qualify([0.9, 0.8, 0.1, 0.2], [1, 1, 0, 0], 0.5, criteria).qualified
        True
        >>> qualify([0.9, 0.8, 0.7], [1, 1, 0], 0.5, criteria).reason
        'not qualified for triage: 1 held-out negative images, at least 2 needed'
    """
    measured = image_level_metrics(scores, labels, threshold)
    positives, negatives = measured["positives"], measured["negatives"]
    sensitivity, specificity = measured["sensitivity"], measured["specificity"]
    shortfalls = []
    if positives < criteria.min_positives:
        shortfalls.append(f"{positives} held-out positive images, at least {criteria.min_positives} needed")
    if negatives < criteria.min_negatives:
        shortfalls.append(f"{negatives} held-out negative images, at least {criteria.min_negatives} needed")
    if not shortfalls:
        if sensitivity < criteria.min_sensitivity:
            shortfalls.append(f"sensitivity {sensitivity:.3f} below {criteria.min_sensitivity:.3f}")
        if specificity < criteria.min_specificity:
            shortfalls.append(f"specificity {specificity:.3f} below {criteria.min_specificity:.3f}")
    if shortfalls:
        reason = f"{NOT_QUALIFIED}: {'; '.join(shortfalls)}"
    else:
        reason = (
            f"qualified for triage: sensitivity {sensitivity:.3f}, specificity {specificity:.3f} "
            f"on {positives} positive and {negatives} negative held-out images"
        )
    return TriageQualification(not shortfalls, reason, sensitivity, specificity, positives, negatives, threshold)


def recorded_qualification(metrics: Mapping) -> TriageQualification:
    """The qualification stored in a checkpoint's ``metrics``; a model that has none is not qualified.

    Example:
        >>> recorded_qualification({}).reason
        'not qualified for triage: never measured on held-out labelled images'
    """
    stored = metrics.get(METRICS_KEY)
    if not stored:
        return TriageQualification(False, f"{NOT_QUALIFIED}: never measured on held-out labelled images")
    return TriageQualification(**stored)


def qualify_checkpoint(
    checkpoint: str | os.PathLike,
    held_out: Sequence,
    criteria: TriageCriteria,
    threshold: float = 0.5,
    batch_size: int = 4,
    device: str = "auto",
    backend: str = "auto",
) -> TriageQualification:
    """Measure a checkpoint on held-out labelled images and record the result in it (``metrics["triage"]``): the
    step to run when a model is promoted, so every later flag can be traced to a measured qualification.

    Args:
        checkpoint: the model file; rewritten atomically with the qualification, weights unchanged.
        held_out: :class:`ptxseg.datasets.labelled.LabelledImage` items the model was not trained on.
        criteria: the minimums to meet.
        threshold: the triage threshold the flags will use.
        batch_size, device, backend: how to run the model (see ``Predictor.from_checkpoint``).

    Example:
        >>> qualify_checkpoint("best.safetensors", val_items, TriageCriteria()).reason  # doctest: +SKIP
        'not qualified for triage: 3 held-out positive images, at least 20 needed'
    """
    from ptxseg.evaluation.evaluate import read_labelled_batches
    from ptxseg.inference.predictor import Predictor
    from ptxseg.model.checkpoint import load_model, save_checkpoint

    predictor = Predictor.from_checkpoint(checkpoint, device, backend, triage_threshold=threshold)
    scores, labels, skipped = [], [], []
    for batch in read_labelled_batches(held_out, batch_size, skipped):
        predictions = predictor.predict_batch([case.image for case in batch])
        scores += [prediction.probability for prediction in predictions]
        labels += [bool(case.truth.any()) for case in batch]
    result = qualify(scores, labels, threshold, criteria)
    model, metadata = load_model(checkpoint)
    metadata.update(metrics={**metadata.metrics, METRICS_KEY: result.to_dict()})
    save_checkpoint(checkpoint, model, metadata)
    return result
