"""FLARE's privacy filters, as the job configures them, on a U-Net's weight differences: what a site would send."""

import numpy as np
import pytest

pytest.importorskip("nvflare", reason="NVIDIA FLARE is the optional federated extra: pip install -e .[federated]")

from nvflare.apis.dxo import DXO, DataKind  # noqa: E402
from nvflare.apis.fl_context import FLContext  # noqa: E402
from nvflare.apis.shareable import Shareable  # noqa: E402

from ptxseg.federated.options import JobOptions  # noqa: E402
from ptxseg.federated.privacy import batchnorm_statistics, output_filters  # noqa: E402
from ptxseg.federated.weights import model_weights  # noqa: E402
from ptxseg.model.network import build_architecture  # noqa: E402


@pytest.fixture(scope="module")
def difference():
    weights = model_weights(build_architecture("efficientnet-b0"))
    rng = np.random.default_rng(0)
    return {
        name: (rng.normal(size=value.shape) * 0.02).astype(np.float32) if value.dtype.kind == "f" else value
        for name, value in weights.items()
    }


def _sent(options: JobOptions, difference: dict) -> dict:
    dxo = DXO(DataKind.WEIGHT_DIFF, data={name: value.copy() for name, value in difference.items()})
    for site_filter in output_filters(options, list(difference)):
        dxo = site_filter.process_dxo(dxo, Shareable(), FLContext()) or dxo
    return dxo.data


def _floats(data: dict) -> np.ndarray:
    return np.concatenate([value.ravel() for value in data.values() if value.dtype.kind == "f"])


def test_percentile_privacy_zeroes_small_updates_and_clips_the_rest(difference):
    sent = _floats(_sent(JobOptions(percentile=50, gamma=0.01), difference))
    assert 0.45 < np.mean(sent == 0) < 0.55
    assert np.abs(sent).max() <= 0.01 + 1e-7


def test_svt_releases_only_its_fraction_and_batchnorm_statistics_stay_at_the_site(difference):
    sent = _sent(JobOptions(privacy="svt", svt_fraction=0.1, exclude_batchnorm=True), difference)
    assert not set(sent) & set(batchnorm_statistics(difference))
    assert np.mean(_floats(sent) != 0) < 0.12
    assert set(sent) == set(difference) - set(batchnorm_statistics(difference))
