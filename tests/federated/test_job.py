"""The job folder a deployment submits: only ptxseg's installed classes configured by plain values, the initial
checkpoint inside it, the privacy filters on what sites send; a bad initial checkpoint is refused before writing."""

import json

import pytest

pytest.importorskip("nvflare", reason="NVIDIA FLARE is the optional federated extra: pip install -e .[federated]")

from ptxseg.federated.job import INITIAL_NAME, write_job  # noqa: E402
from ptxseg.federated.options import JobOptions, RoundOptions  # noqa: E402
from tests.support.small_model import write_small_checkpoint  # noqa: E402


@pytest.fixture(scope="module")
def initial(tmp_path_factory):
    return write_small_checkpoint(tmp_path_factory.mktemp("initial") / "initial.safetensors")


def _configs(job):
    config = job / "app" / "config"
    return json.loads((config / "config_fed_server.json").read_text()), json.loads(
        (config / "config_fed_client.json").read_text()
    )


def test_the_job_ships_no_ptxseg_code_but_the_client_script(initial, tmp_path):
    job = write_job(initial, tmp_path, JobOptions(rounds=3, sites=3, min_sites=2), RoundOptions(image_size=64))
    custom = sorted(str(path.relative_to(job / "app" / "custom")) for path in (job / "app" / "custom").rglob("*.*"))
    assert custom == [INITIAL_NAME, "ptxseg/federated/client.py"]
    server, client = _configs(job)
    (workflow,) = server["workflows"]
    assert workflow["path"] == "ptxseg.federated.controller.SiteTolerantFedAvg"
    assert workflow["args"]["num_rounds"] == 3 and workflow["args"]["min_sites"] == 2
    assert workflow["args"]["round_options"]["image_size"] == 64
    assert server["components"][0]["args"] == {"initial_checkpoint": INITIAL_NAME}
    (executor,) = client["executors"]
    assert executor["executor"]["args"]["task_script_path"] == "ptxseg/federated/client.py"
    assert json.loads((job / "meta.json").read_text())["min_clients"] == 2


@pytest.mark.parametrize(
    ("options", "filters"),
    [
        (JobOptions(), ["PercentilePrivacy"]),
        (JobOptions(privacy="svt", exclude_batchnorm=True), ["ExcludeVars", "SVTPrivacy"]),
        (JobOptions(privacy="none"), []),
    ],
)
def test_the_privacy_filters_run_on_what_sites_send(initial, tmp_path, options, filters):
    _, client = _configs(write_job(initial, tmp_path, options, RoundOptions(image_size=64)))
    written = [item for group in client["task_result_filters"] for item in group["filters"]]
    assert [item["path"].rsplit(".", 1)[-1] for item in written] == filters
    for group in client["task_result_filters"]:
        assert group["tasks"] == ["train"]
    if "ExcludeVars" in filters:
        excluded = written[0]["args"]["exclude_vars"]
        assert excluded and all(
            name.endswith(("running_mean", "running_var", "num_batches_tracked")) for name in excluded
        )


def test_a_missing_initial_checkpoint_is_refused(tmp_path):
    with pytest.raises(ValueError, match="does not exist: pass the model every site starts from"):
        write_job(tmp_path / "none.safetensors", tmp_path, JobOptions(), RoundOptions())
    assert not any(tmp_path.iterdir())


def test_an_initial_checkpoint_of_another_size_is_refused(initial, tmp_path):
    with pytest.raises(ValueError, match="is a 64 px model, the rounds train at 512 px: pass --image-size 64"):
        write_job(initial, tmp_path / "jobs", JobOptions(), RoundOptions())
    assert not (tmp_path / "jobs").exists()
