"""Where the work runs: device names resolved or refused, and the bf16 question asked safely."""

import pytest
import torch

from ptxseg.compute.device import cpu_supports_bf16, resolve_device

SIZE = 64


def test_resolve_device():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="'auto', 'cpu' or 'cuda"):
        resolve_device("gpu")
    with pytest.raises(ValueError, match="'auto', 'cpu' or 'cuda"):
        resolve_device("mps")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised on a machine without a GPU")
def test_resolve_device_refuses_cuda_without_a_gpu():
    with pytest.raises(ValueError, match="no CUDA GPU"):
        resolve_device("cuda:0")


def test_cpu_supports_bf16_is_false_when_openvino_cannot_be_asked(monkeypatch):
    import openvino

    def broken_core():
        raise RuntimeError("no CPU plugin")

    monkeypatch.setattr(openvino, "Core", broken_core)

    assert cpu_supports_bf16() is False
