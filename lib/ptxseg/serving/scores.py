"""The score cache behind active learning and triage: each unlabelled study's probability, uncertainty and flag.

Scores are kept in each image's datastore info with the model version and uncertainty method that made them; a
new model version (or a restart with another ``mc_samples``) makes them stale, and they are recomputed (in batches)
the next time a strategy or the scoring method needs them.
"""

from __future__ import annotations

import logging
from typing import Protocol

from ptxseg.inference.scoring import score_images
from ptxseg.io.reader import read_cxr

__all__ = [
    "FLAG_KEY",
    "METHOD_KEY",
    "PROBABILITY_KEY",
    "ScoredDatastore",
    "UNCERTAINTY_KEY",
    "VERSION_KEY",
    "highest_scored",
    "refresh_scores",
    "stale_images",
]

LOGGER = logging.getLogger(__name__)
PROBABILITY_KEY = "ptx_probability"
UNCERTAINTY_KEY = "ptx_uncertainty"
FLAG_KEY = "ptx_flag"
VERSION_KEY = "ptx_model_version"
METHOD_KEY = "ptx_uncertainty_method"


class ScoredDatastore(Protocol):
    """The part of a MONAI Label datastore the score cache uses."""

    def get_unlabeled_images(self) -> list[str]: ...

    def get_image_info(self, image_id: str) -> dict: ...

    def get_image_uri(self, image_id: str) -> str: ...

    def update_image_info(self, image_id: str, info: dict) -> None: ...


def stale_images(datastore: ScoredDatastore, version: int, method: str) -> list[str]:
    """Unlabelled studies without scores from model ``version`` and uncertainty ``method``.

    Example:
        >>> stale_images(datastore, version=3, method="flip")  # doctest: +SKIP
        ['demo-chest-004']
    """
    infos = {image: datastore.get_image_info(image) for image in datastore.get_unlabeled_images()}
    stamp = (version, method)
    return [image for image, info in infos.items() if (info.get(VERSION_KEY), info.get(METHOD_KEY)) != stamp]


def refresh_scores(served, datastore: ScoredDatastore, batch_size: int) -> int:
    """Score every unlabelled study whose scores are missing or stale with ``served`` (a ``ServedModel``);
    returns how many were scored.

    Example:
        >>> refresh_scores(served, datastore, batch_size=8)  # doctest: +SKIP
        12
    """
    version = served.record.version
    method = served.uncertainty_method
    pending = stale_images(datastore, version, method)
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
                    METHOD_KEY: method,
                },
            )
    if pending:
        LOGGER.info("scored %d unlabelled studies with model version %d", len(pending), version)
    return len(pending)


def highest_scored(datastore: ScoredDatastore, key: str) -> dict | None:
    """The unlabelled study with the highest cached score under ``key`` (ties: the largest id), as a strategy
    answers it; None when nothing is left to label. Unscored studies rank last.

    Example:
        >>> highest_scored(datastore, PROBABILITY_KEY)  # doctest: +SKIP
        {'id': 'demo-chest-007', 'ptx_probability': 0.93}
    """
    candidates = datastore.get_unlabeled_images()
    if not candidates:
        return None
    best = max(candidates, key=lambda image: (datastore.get_image_info(image).get(key, -1.0), image))
    return {"id": best, key: datastore.get_image_info(best).get(key)}
