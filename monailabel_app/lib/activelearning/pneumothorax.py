"""Active learning and triage: the next study to label is the one with the highest cached score
(``ptxseg.serving.scores``), refreshed first with the served model."""

from __future__ import annotations

import random

from monailabel.interfaces.tasks.scoring import ScoringMethod
from monailabel.interfaces.tasks.strategy import Strategy
from monailabel.tasks.activelearning.random import Random

from ptxseg.serving.scores import PROBABILITY_KEY, UNCERTAINTY_KEY, highest_scored, refresh_scores
from ptxseg.serving.served_model import ServedModel


class PneumothoraxScoring(ScoringMethod):
    """``POST /scoring/pneumothorax_scores``: probability, uncertainty and triage flag per unlabelled study."""

    def __init__(self, served: ServedModel, batch_size: int):
        super().__init__(f"Pneumothorax probability and {served.uncertainty_method} uncertainty of unlabelled studies")
        self.served = served
        self.batch_size = batch_size

    def __call__(self, request, datastore) -> dict:
        """Refresh stale scores; returns how many studies were scored and with which model version."""
        scored = refresh_scores(self.served, datastore, self.batch_size)
        return {"scored": scored, "model_version": self.served.record.version}


class HighestScore(Strategy):
    """Next study = the unlabelled one with the highest cached score under ``key`` (scores refreshed first)."""

    def __init__(self, served: ServedModel, key: str, description: str, batch_size: int):
        super().__init__(description)
        self.served = served
        self.key = key
        self.batch_size = batch_size

    def __call__(self, request, datastore) -> dict | None:
        """Pick the top study; None when nothing is left to label."""
        refresh_scores(self.served, datastore, self.batch_size)
        return highest_scored(datastore, self.key)


def uncertainty_strategy(served: ServedModel, batch_size: int) -> HighestScore:
    """The study the current model is least sure about (largest flip-TTA or MC-dropout disagreement)."""
    description = f"Most uncertain study first ({served.uncertainty_method} disagreement)"
    return HighestScore(served, UNCERTAINTY_KEY, description, batch_size)


def triage_strategy(served: ServedModel, batch_size: int) -> HighestScore:
    """The study most likely to show a pneumothorax (worklist prioritisation)."""
    return HighestScore(served, PROBABILITY_KEY, "Highest pneumothorax probability first (triage)", batch_size)


class RandomStudy(Random):
    """MONAI Label's Random, which weights a study by the seconds since it was last offered; when every study was
    offered within the current second all weights are 0 and it fails. Then any unlabelled study is as good."""

    def __call__(self, request, datastore):
        try:
            return super().__call__(request, datastore)
        except ValueError:  # random.choices: "Total of weights must be greater than zero"
            images = datastore.get_unlabeled_images(request.get("label_tag"), request.get("labels"))
            return {"id": random.choice(images), "weight": 0}
