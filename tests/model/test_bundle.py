"""Recipe bundles: several networks in one safe file, rebuilt exactly; malformed recipes are refused with a reason."""

import pytest
import torch

from ptxseg.model.bundle import ModelBundle, load_any, load_bundle, model_kind
from ptxseg.model.checkpoint import CheckpointMetadata
from ptxseg.model.network import build_architecture
from ptxseg.training.recipes import default_options
from tests.support.recipe_models import write_small_bundle
from tests.support.small_model import write_small_checkpoint


@pytest.mark.parametrize("kind", ["ensemble", "two_stage"])
def test_a_bundle_comes_back_with_every_member_and_its_options(tmp_path, kind):
    path = write_small_bundle(tmp_path, kind)
    bundle = load_bundle(path)
    assert model_kind(path) == load_any(path) == kind
    assert bundle.options == default_options(kind, 64) and bundle.image_size == 64
    assert [member["role"] for member in bundle.describe()] == (
        ["unet", "unet"] if kind == "ensemble" else ["unet", "classifier"]
    )
    x = torch.rand(1, 1, 64, 64)
    again = load_bundle(path)
    for (first, _), (second, _) in zip(bundle.unets, again.unets, strict=True):
        assert torch.equal(first(x), second(x)) and not first.training


def test_a_plain_checkpoint_is_a_unet_and_not_a_bundle(tmp_path):
    path = write_small_checkpoint(tmp_path / "unet.safetensors")
    assert model_kind(path) == load_any(path) == "unet"
    with pytest.raises(ValueError, match="single U-Net checkpoint, not an ensemble"):
        load_bundle(path)


@pytest.mark.parametrize(
    ("kind", "count", "sizes", "options", "message"),
    [
        ("ensemble", 1, [64], None, "two or more U-Nets"),
        ("ensemble", 2, [64, 128], None, "same input size"),
        (
            "ensemble",
            2,
            [64, 64],
            {"hflip": "yes", "postprocess": {"kind": "threshold"}},
            "hflip must be true or false",
        ),
        ("two_stage", 1, [64], None, "one U-Net and one classifier"),
        ("triple", 2, [64, 64], {}, "unknown model kind 'triple'"),
    ],
)
def test_malformed_recipes_are_refused_with_the_reason(kind, count, sizes, options, message):
    unets = [
        (build_architecture("efficientnet-b0"), CheckpointMetadata("efficientnet-b0", image_size=s)) for s in sizes
    ]
    chosen = options if options is not None else default_options(kind, 64)
    with pytest.raises(ValueError, match=message):
        ModelBundle(kind, unets[:count], chosen)
