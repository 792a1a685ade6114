"""Active learning and triage: score unlabelled studies with the served model, pick the next one to label.

Scores are cached in each image's datastore info with the model version and uncertainty method that made them; a
new model version (or a restart with another ``mc_samples``) makes them stale, and they are recomputed (in batches)
the next time a strategy or the scoring method needs them.
"""

from __future__ import annotations

import logging

from monailabel.interfaces.tasks.scoring import ScoringMethod
from monailabel.interfaces.tasks.strategy import Strategy

from lib.configs.pneumothorax import ServedModel
from ptxseg.inference.scoring import score_images
from ptxseg.io.reader import read_cxr

LOGGER = logging.getLogger(__name__)
PROBABILITY_KEY = "ptx_probability"
UNCERTAINTY_KEY = "ptx_uncertainty"
FLAG_KEY = "ptx_flag"
VERSION_KEY = "ptx_model_version"
METHOD_KEY = "ptx_uncertainty_method"


def stale_images(datastore, version: int, method: str) -> list[str]:
    """Unlabelled studies without scores from model ``version`` and uncertainty ``method``."""
    infos = {image: datastore.get_image_info(image) for image in datastore.get_unlabeled_images()}
    stamp = (version, method)
    return [image for image, info in infos.items() if (info.get(VERSION_KEY), info.get(METHOD_KEY)) != stamp]


def refresh_scores(served: ServedModel, datastore, batch_size: int) -> int:
    """Score every unlabelled study whose scores are missing or stale; returns how many were scored."""
    version = served.record.version
    pending = stale_images(datastore, version, served.uncertainty_method)
    predictor = served.predictor()
    uncertainty = served.uncertainty()
    for start in range(0, len(pending), batch_size):
        batch = pending[start : start + batch_size]
        images = [read_cxr(datastore.get_image_uri(image)) for image in batch]
        for image, score in zip(batch, score_images(predictor, images, uncertainty), strict=True):
            datastore.update_image_info(
                image,
                {
                    PROBABILITY_KEY: round(score.probability, 6),
                    # Significant digits, not decimals: an early model's uncertainties can all lie below 1e-6.
                    UNCERTAINTY_KEY: float(f"{score.uncertainty:.6g}"),
                    FLAG_KEY: score.flag,
                    VERSION_KEY: version,
                    METHOD_KEY: served.uncertainty_method,
                },
            )
    if pending:
        LOGGER.info("scored %d unlabelled studies with model version %d", len(pending), version)
    return len(pending)


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
        candidates = datastore.get_unlabeled_images()
        if not candidates:
            return None
        best = max(candidates, key=lambda image: (datastore.get_image_info(image).get(self.key, -1.0), image))
        return {"id": best, self.key: datastore.get_image_info(best).get(self.key)}


def uncertainty_strategy(served: ServedModel, batch_size: int) -> HighestScore:
    """The study the current model is least sure about (largest flip-TTA or MC-dropout disagreement)."""
    description = f"Most uncertain study first ({served.uncertainty_method} disagreement)"
    return HighestScore(served, UNCERTAINTY_KEY, description, batch_size)


def triage_strategy(served: ServedModel, batch_size: int) -> HighestScore:
    """The study most likely to show a pneumothorax (worklist prioritisation)."""
    return HighestScore(served, PROBABILITY_KEY, "Highest pneumothorax probability first (triage)", batch_size)
