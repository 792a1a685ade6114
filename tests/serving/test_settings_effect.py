"""Settings that cannot take effect on the served model: conf ``model`` installs its checkpoint unless it is served
or was superseded by a later model, and the keys of a new model, the fine-tuning size, the PACS keys and MC dropout
are said or refused (in process; tests/app/test_app_settings_effect.py runs them through the real server)."""

from __future__ import annotations

import pytest

from ptxseg.model.checkpoint import CheckpointMetadata
from ptxseg.serving.app_location import default_app_dir
from ptxseg.serving.check_conf import check_app_conf
from ptxseg.serving.conf_model import plan_conf_model
from ptxseg.serving.install import served_metadata
from ptxseg.serving.served_model import ServedModel
from ptxseg.serving.settings import ServingSettings
from ptxseg.serving.settings_effect import settings_without_effect
from ptxseg.serving.store import ModelStore
from tests.support.recipe_models import write_small_bundle
from tests.support.small_model import write_small_checkpoint


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict:
    """Three small b0 models with different bytes: 64 px, 64 px with dropout 0.2, 96 px."""
    folder = tmp_path_factory.mktemp("checkpoints")
    return {
        "first": write_small_checkpoint(folder / "first.safetensors", 64),
        "dropout": write_small_checkpoint(folder / "dropout.safetensors", 64, dropout=0.2),
        "other": write_small_checkpoint(folder / "other.safetensors", 96),
    }


def test_conf_model_installs_a_new_checkpoint_once_and_never_undoes_a_later_model(tmp_path, checkpoints):
    store = ModelStore(tmp_path / "model")
    assert plan_conf_model(checkpoints["first"], store).install  # an empty folder
    store.install(checkpoints["first"], trained=True, source="fine-tuned on labels/final")

    plan = plan_conf_model(checkpoints["dropout"], store)
    assert plan.install and not plan.ignored and "differs from the served version 1" in plan.reason

    served = ServedModel(ServingSettings(model=str(checkpoints["dropout"]), image_size=64), store.directory)
    record = served.record
    assert (record.version, record.source) == (2, f"conf model={checkpoints['dropout']}")
    assert store.previous_path.read_bytes() == checkpoints["first"].read_bytes()
    assert served.settings_ignored == [] and served.describe()["settings_ignored"] == []
    again = plan_conf_model(checkpoints["dropout"], store)
    assert not again.install and not again.ignored and "is the served model already: version 2" in again.reason

    store.install(checkpoints["other"], trained=True, source="fine-tuned on labels/final")  # promoted since
    superseded = plan_conf_model(checkpoints["dropout"], store)
    assert not superseded.install and superseded.ignored
    assert f"ptxseg export --model {checkpoints['dropout']} --app {store.directory}" in superseded.reason
    restarted = ServedModel(ServingSettings(model=str(checkpoints["dropout"]), image_size=96), store.directory)
    assert restarted.record.version == 3 and restarted.settings_ignored == [superseded.reason]
    assert store.served_path.read_bytes() == checkpoints["other"].read_bytes()


def test_the_keys_of_a_new_model_are_said_to_be_ignored_when_a_model_exists(tmp_path):
    weights = tmp_path / "encoder.pth"
    weights.write_bytes(b"not read: a model exists")
    conf = {"encoder": "efficientnet-b4", "dropout": "0.3", "encoder_weights": str(weights), "image_size": "64"}
    served = CheckpointMetadata("efficientnet-b0", image_size=64, dropout=0.0, encoder_weights="random")

    notes = settings_without_effect(ServingSettings.from_conf(conf), served)

    assert [note.split("=")[0] for note in notes] == ["encoder", "dropout", "encoder_weights"]
    assert "the served model is an efficientnet-b0 U-Net" in notes[0] and "--conf model_dir NEW_FOLDER" in notes[0]
    assert settings_without_effect(ServingSettings.from_conf(conf), None) == []  # a new model takes them all
    # The default encoder differs from the served one too, but was not asked for: nothing to say.
    assert settings_without_effect(ServingSettings(image_size=64), served) == []


def test_an_image_size_other_than_the_served_models_says_what_it_changes():
    (note,) = settings_without_effect(ServingSettings(), CheckpointMetadata("efficientnet-b0", image_size=128))
    assert note.startswith("image_size=512 (the default) is not the served model's 128 px: it predicts at 128 px")
    assert "fine-tuning trains the challenger at 512 px" in note and "--conf image_size 128" in note


def test_settings_that_cannot_be_served_without_are_refused(tmp_path, checkpoints):
    with pytest.raises(ValueError, match=r"^conf prescreen, prescreen_min_age apply to a PACS only: .*--dicomweb"):
        settings_without_effect(ServingSettings.from_conf({"prescreen": "true", "prescreen_min_age": "16"}), None, {})
    pacs = {"PTXSEG_DICOMWEB_URL": "http://127.0.0.1:8042/dicom-web"}
    assert settings_without_effect(ServingSettings.from_conf({"prescreen": "true"}), None, pacs) == []

    without_dropout = CheckpointMetadata("efficientnet-b0", dropout=0.0)
    with pytest.raises(ValueError, match="MC dropout needs a model with dropout; the served model has none"):
        settings_without_effect(ServingSettings(mc_samples=4, dropout=0.3), without_dropout)
    with pytest.raises(ValueError, match="the new model"):
        settings_without_effect(ServingSettings(mc_samples=4), None)

    model_dir = tmp_path / "model"
    ModelStore(model_dir).install(checkpoints["first"], trained=True)
    with pytest.raises(ValueError, match="has none"):  # the conf check refuses it before a server starts
        check_app_conf(default_app_dir(), {"model_dir": str(model_dir), "mc_samples": "4", "dropout": "0.3"})
    check_app_conf(
        default_app_dir(), {"model_dir": str(model_dir), "model": str(checkpoints["dropout"]), "mc_samples": "4"}
    )


def test_the_served_size_is_read_from_a_plain_checkpoint_and_from_a_bundle(tmp_path, checkpoints):
    bundle = write_small_bundle(tmp_path / "bundle", "ensemble")
    assert served_metadata(bundle).image_size == 64 and served_metadata(bundle).encoder == "efficientnet-b0"
    assert served_metadata(checkpoints["other"]).image_size == 96


def test_conf_model_replaces_a_served_file_that_does_not_load_and_problem_says_so(tmp_path, checkpoints):
    store = ModelStore(tmp_path / "model")
    store.install(checkpoints["first"], trained=True)
    store.served_path.write_bytes(b"cut short")

    served = ServedModel(ServingSettings(model=str(checkpoints["other"]), image_size=96), store.directory)

    assert store.served_path.read_bytes() == checkpoints["other"].read_bytes()
    assert served.problem.startswith("the served model could not be loaded")
    assert served.problem.endswith(f"; conf model={checkpoints['other']} is served instead")
    assert served.describe()["image_size"] == 96
