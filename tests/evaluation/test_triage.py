"""Triage qualification: measured on held-out labelled images of both classes, recorded in the checkpoint, read back
wherever flags are made; too few images or too low sensitivity/specificity is "not qualified", with the reason."""

import pytest

from ptxseg.datasets.labelled import LabelledImage
from ptxseg.evaluation.triage import (
    TriageCriteria,
    TriageQualification,
    qualify,
    qualify_checkpoint,
    recorded_qualification,
)
from ptxseg.model.checkpoint import load_model
from ptxseg.phantom.files import write_phantoms
from tests.support.small_model import write_small_checkpoint


def test_sensitivity_and_specificity_must_meet_the_minimums():
    criteria = TriageCriteria(min_positives=2, min_negatives=2, min_sensitivity=0.9, min_specificity=0.5)
    result = qualify([0.9, 0.2, 0.1, 0.3], [1, 1, 0, 0], threshold=0.5, criteria=criteria)

    assert not result.qualified
    assert result.reason == "not qualified for triage: sensitivity 0.500 below 0.900"
    assert (result.sensitivity, result.specificity, result.positives, result.negatives) == (0.5, 1.0, 2, 2)


def test_a_model_that_flags_everything_is_not_qualified():
    criteria = TriageCriteria(min_positives=2, min_negatives=2)
    result = qualify([0.9, 0.8, 0.7, 0.95], [1, 1, 0, 0], threshold=0.5, criteria=criteria)

    assert not result.qualified and "specificity 0.000 below 0.800" in result.reason


def test_bad_criteria_are_refused():
    with pytest.raises(ValueError, match="min_sensitivity must lie in"):
        TriageCriteria(min_sensitivity=1.5)


def test_a_never_measured_model_is_not_qualified():
    assert recorded_qualification({}) == TriageQualification(
        False, "not qualified for triage: never measured on held-out labelled images"
    )


def test_qualification_is_measured_and_recorded_in_the_checkpoint(tmp_path):
    checkpoint = write_small_checkpoint(tmp_path / "b0.safetensors")
    phantoms = write_phantoms(tmp_path / "held-out", 3, size=64, fmt="png", seed=5)
    held_out = [LabelledImage(p.image_id, p.image_path, p.mask_path) for p in phantoms]

    result = qualify_checkpoint(checkpoint, held_out, TriageCriteria(), device="cpu", backend="torch")

    assert not result.qualified and "held-out positive images, at least 20 needed" in result.reason
    assert result.positives + result.negatives == 3
    _, metadata = load_model(checkpoint)
    assert recorded_qualification(metadata.metrics) == result
