"""The client algorithm alone (no FLARE): a round fine-tunes the received weights on the site's labels and returns
only arrays and numbers; the global model is a challenger at the site, recorded in its model store like local
fine-tuning."""

import numpy as np
import pytest

from ptxseg.federated.options import RoundOptions
from ptxseg.federated.site_config import SiteConfig
from ptxseg.federated.site_training import SOURCE, SiteTrainer
from ptxseg.federated.weights import checkpoint_weights
from ptxseg.serving.store import ModelStore
from tests.federated.hospitals import write_hospital
from tests.support.small_model import write_small_checkpoint

OPTIONS = RoundOptions(image_size=64, batch_size=2, val_fraction=0.3)


@pytest.fixture
def site(tmp_path):
    studies = write_hospital(tmp_path / "studies", "site-2", n=8)
    return SiteConfig("site-2", studies, tmp_path / "model")


@pytest.fixture
def start(tmp_path):
    return checkpoint_weights(write_small_checkpoint(tmp_path / "initial.safetensors"))[0]


def test_a_round_returns_fine_tuned_weights_and_numbers_only(site, start):
    result = SiteTrainer(site).train_round(start, OPTIONS, 0, 2)
    assert set(result.weights) == set(start)
    assert any(not np.array_equal(result.weights[name], start[name]) for name in start)
    assert result.training_images == len(SiteTrainer(site).split(OPTIONS)[0])
    assert all(isinstance(value, float) for value in result.metrics.values())
    assert {"global_per_image_dice", "local_per_image_dice"} <= set(result.metrics)


def test_the_global_model_is_a_challenger_recorded_in_the_store(site, start):
    trainer = SiteTrainer(site)
    first = trainer.promote(start, OPTIONS, rounds=3)
    assert first["promoted"] and first["reason"] == "the served model was untrained"
    store = ModelStore(site.model_dir)
    assert store.read_record().source == SOURCE and store.read_record().version == 1
    empty = {**start, "segmentation_head.0.bias": np.full_like(start["segmentation_head.0.bias"], -1e4)}
    second = trainer.promote(empty, OPTIONS, rounds=3)
    assert second["champion_dice"] == pytest.approx(first["challenger_dice"])
    assert second["promoted"] == (second["challenger_dice"] >= second["champion_dice"])
    record = store.read_record()
    assert record.version == (2 if second["promoted"] else 1)
    assert record.history[-1]["reason"] == second["reason"]


def test_a_site_without_final_labels_says_what_to_do(tmp_path, start):
    (tmp_path / "studies").mkdir()
    trainer = SiteTrainer(SiteConfig("site-1", tmp_path / "studies", tmp_path / "model"))
    with pytest.raises(ValueError, match="has no labels/final; submit labels"):
        trainer.train_round(start, OPTIONS, 0, 1)
