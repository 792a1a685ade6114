"""The score cache: unlabelled studies are scored once per model version and uncertainty method, in batches, and
the strategies pick the highest cached score."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from PIL import Image

from ptxseg.inference.predictor import Predictor
from ptxseg.inference.uncertainty import FlipUncertainty
from ptxseg.serving.scores import (
    FLAG_KEY,
    METHOD_KEY,
    PROBABILITY_KEY,
    UNCERTAINTY_KEY,
    VERSION_KEY,
    highest_scored,
    refresh_scores,
    stale_images,
)
from ptxseg.transforms.intensity import normalize

SIZE = 32


class BrightPixelLogits:
    """A fake network that segments whatever is brighter than mid-grey; counts its calls."""

    name = "fake-bright"

    def __init__(self):
        self.batch_sizes = []

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        self.batch_sizes.append(len(batch))
        return 10.0 * (batch - normalize(np.float32(0.5)))


class FakeDatastore:
    """Studies in a folder, their infos in memory; ``labelled`` ones are not offered."""

    def __init__(self, folder, brightness: dict[str, int], labelled=()):
        self.paths = {}
        for image_id, value in brightness.items():
            pixels = np.full((SIZE, SIZE), 20, np.uint8)
            pixels[8:24, 8:24] = value
            self.paths[image_id] = folder / f"{image_id}.png"
            Image.fromarray(pixels).save(self.paths[image_id])
        self.infos = {image_id: {} for image_id in brightness}
        self.labelled = set(labelled)

    def get_unlabeled_images(self) -> list[str]:
        return [image_id for image_id in self.paths if image_id not in self.labelled]

    def get_image_info(self, image_id: str) -> dict:
        return dict(self.infos[image_id])

    def get_image_uri(self, image_id: str) -> str:
        return str(self.paths[image_id])

    def update_image_info(self, image_id: str, info: dict) -> None:
        self.infos[image_id].update(info)


def _served(version: int = 1):
    backend = BrightPixelLogits()
    predictor = Predictor(backend, SIZE)
    uncertainty = FlipUncertainty(predictor)
    return SimpleNamespace(
        record=SimpleNamespace(version=version),
        uncertainty_method=FlipUncertainty.method,
        predictor=lambda: predictor,
        uncertainty=lambda: uncertainty,
        backend=backend,
    )


def test_unlabelled_studies_are_scored_in_batches_and_stamped(tmp_path):
    datastore = FakeDatastore(tmp_path, {"dark": 30, "mid": 150, "bright": 250, "done": 250}, labelled={"done"})
    served = _served(version=3)

    assert refresh_scores(served, datastore, batch_size=2) == 3

    assert served.backend.batch_sizes[0] == 2  # the first forward of a batch of two
    assert datastore.infos["done"] == {}
    for image_id in ("dark", "mid", "bright"):
        info = datastore.infos[image_id]
        assert info[VERSION_KEY] == 3 and info[METHOD_KEY] == FlipUncertainty.method
        assert 0.0 <= info[PROBABILITY_KEY] <= 1.0 and 0.0 <= info[UNCERTAINTY_KEY] <= 1.0
        assert info[FLAG_KEY] == (info[PROBABILITY_KEY] >= 0.5)
    assert datastore.infos["bright"][PROBABILITY_KEY] > datastore.infos["dark"][PROBABILITY_KEY]


def test_fresh_scores_are_kept_and_a_new_model_version_or_method_makes_them_stale(tmp_path):
    datastore = FakeDatastore(tmp_path, {"a": 100, "b": 200})
    refresh_scores(_served(version=1), datastore, batch_size=8)

    assert stale_images(datastore, 1, FlipUncertainty.method) == []
    assert refresh_scores(_served(version=1), datastore, batch_size=8) == 0
    assert stale_images(datastore, 1, "mc_dropout") == ["a", "b"]
    assert refresh_scores(_served(version=2), datastore, batch_size=8) == 2
    assert {info[VERSION_KEY] for info in datastore.infos.values()} == {2}


def test_the_strategy_picks_the_highest_cached_score_and_unscored_studies_last(tmp_path):
    datastore = FakeDatastore(tmp_path, {"dark": 30, "bright": 250, "unscored": 250})
    datastore.labelled = {"unscored"}
    refresh_scores(_served(), datastore, batch_size=8)
    datastore.labelled = set()

    chosen = highest_scored(datastore, PROBABILITY_KEY)

    assert chosen == {"id": "bright", PROBABILITY_KEY: datastore.infos["bright"][PROBABILITY_KEY]}
    datastore.labelled = {"bright", "dark"}
    assert highest_scored(datastore, PROBABILITY_KEY) == {"id": "unscored", PROBABILITY_KEY: None}
    datastore.labelled = {"bright", "dark", "unscored"}
    assert highest_scored(datastore, PROBABILITY_KEY) is None
