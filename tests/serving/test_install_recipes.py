"""``ptxseg export --app`` installs a recipe bundle like a checkpoint, and never into an app serving another kind."""

import pytest

from ptxseg.serving.install import install_in_app
from ptxseg.serving.store import ModelStore
from tests.support.recipe_models import write_small_bundle
from tests.support.small_model import write_small_checkpoint


def test_a_bundle_installs_as_the_served_model_and_a_unet_app_refuses_it(tmp_path):
    bundle = write_small_bundle(tmp_path / "made", "ensemble")
    record = install_in_app(bundle, tmp_path / "ensemble-model")
    assert (
        record.version == 1 and ModelStore(tmp_path / "ensemble-model").served_path.read_bytes() == bundle.read_bytes()
    )
    unet_app = tmp_path / "unet-model"
    install_in_app(write_small_checkpoint(tmp_path / "made" / "single.safetensors"), unet_app)
    with pytest.raises(ValueError, match="a ensemble model in an app that serves a unet model"):
        install_in_app(bundle, unet_app)
    assert ModelStore(unet_app).read_record().version == 1
