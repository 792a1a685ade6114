"""ImageNet encoder weights from generated files: both key namings, wrong files refused, the cache and its download."""

import re

import pytest
import torch
from monai.networks.nets import EfficientNetBN
from monai.networks.nets.efficientnet import url_map
from safetensors.torch import save_file

from ptxseg.model.encoder_weights import WEIGHTS_CACHE_ENV, download_imagenet_weights, imagenet_weights_path
from ptxseg.model.factory import build_model
from ptxseg.model.network import (
    describe_weights,
)


def _imagenet_like_state_dict(encoder: str, flat_keys: bool) -> dict:
    """A stand-in for the real ImageNet file: MONAI's RGB EfficientNet (with its `_fc` head), random weights.

    flat_keys=True renames `_blocks.<stage>.<block>.*` to `_blocks.<block>.*`, the efficientnet_pytorch naming of the
    files MONAI downloads.
    """
    torch.manual_seed(1)
    state = EfficientNetBN(encoder, pretrained=False, in_channels=3).state_dict()
    if flat_keys:
        state = {re.sub(r"^_blocks\.\d+\.", "_blocks.", key): value for key, value in state.items()}
    return state


def test_imagenet_file_with_efficientnet_pytorch_keys_loads_into_b4(tmp_path):
    source = _imagenet_like_state_dict("efficientnet-b4", flat_keys=True)
    assert source["_conv_stem.weight"].shape == (48, 3, 3, 3)
    assert "_fc.weight" in source and "_blocks.31._project_conv.weight" in source
    path = tmp_path / "efficientnet-b4-6ed6700e.pth"
    torch.save(source, path)

    model = build_model("efficientnet-b4", encoder_weights=path)

    state = model.state_dict()
    assert state["encoder._conv_stem.weight"].shape == (48, 1, 3, 3)
    assert torch.equal(state["encoder._conv_stem.weight"], source["_conv_stem.weight"].sum(dim=1, keepdim=True))
    assert torch.equal(state["encoder._blocks.6.31._project_conv.weight"], source["_blocks.31._project_conv.weight"])
    assert torch.equal(state["encoder._blocks.3.10._bn1.running_var"], source["_blocks.10._bn1.running_var"])
    assert describe_weights(model) == f"imagenet:{path.resolve()}"


@pytest.mark.parametrize("in_channels", [1, 3])
def test_imagenet_file_with_monai_keys_loads(tmp_path, in_channels):
    source = _imagenet_like_state_dict("efficientnet-b0", flat_keys=False)
    path = tmp_path / "b0.safetensors"
    save_file(source, path)
    state = build_model("efficientnet-b0", in_channels, encoder_weights=path).state_dict()
    expected_stem = source["_conv_stem.weight"] if in_channels == 3 else source["_conv_stem.weight"].sum(1, True)
    assert torch.equal(state["encoder._conv_stem.weight"], expected_stem)
    assert torch.equal(
        state["encoder._blocks.6.15._depthwise_conv.weight"], source["_blocks.6.15._depthwise_conv.weight"]
    )


def test_weights_of_another_encoder_are_rejected_with_the_keys(tmp_path):
    path = tmp_path / "b0.pth"
    torch.save(_imagenet_like_state_dict("efficientnet-b0", flat_keys=True), path)
    with pytest.raises(
        ValueError, match=r"does not fit the efficientnet-b4 encoder: \d+ of 698 weights missing"
    ) as error:
        build_model("efficientnet-b4", encoder_weights=path)
    assert "_conv_stem.weight: file (32, 1, 3, 3), model (48, 1, 3, 3)" in str(error.value)


def test_unrelated_file_is_rejected(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"conv.weight": torch.zeros(3, 3)}, path)
    with pytest.raises(ValueError, match=r"missing \(e\.g\. \['_conv_stem.weight'"):
        build_model("efficientnet-b0", encoder_weights=path)
    with pytest.raises(ValueError, match="not found"):
        build_model("efficientnet-b0", encoder_weights=tmp_path / "absent.pth")


def test_imagenet_without_cached_file_says_how_to_get_it(tmp_path):
    with pytest.raises(ValueError, match=r"not cached .*download_imagenet_weights\("):
        build_model("efficientnet-b0", encoder_weights="imagenet", cache_dir=tmp_path)


def test_download_goes_to_cache_once_and_is_then_used(tmp_path, monkeypatch):
    calls = []

    def fake_download(url, destination, hash_prefix=None, progress=True):
        calls.append((url, destination, hash_prefix))
        torch.save(_imagenet_like_state_dict("efficientnet-b0", flat_keys=True), destination)

    monkeypatch.setattr(torch.hub, "download_url_to_file", fake_download)  # no network in tests
    path = download_imagenet_weights(tmp_path / "cache", "efficientnet-b0")
    assert download_imagenet_weights(tmp_path / "cache", "efficientnet-b0") == path
    assert calls == [(url_map["efficientnet-b0"], str(tmp_path / "cache" / "efficientnet-b0-355c32eb.pth"), "355c32eb")]

    model = build_model("efficientnet-b0", encoder_weights="imagenet", cache_dir=tmp_path / "cache")
    assert describe_weights(model) == f"imagenet:{path.resolve()}"


def test_cache_dir_defaults_to_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(WEIGHTS_CACHE_ENV, str(tmp_path))
    assert imagenet_weights_path() == tmp_path / "efficientnet-b4-6ed6700e.pth"
