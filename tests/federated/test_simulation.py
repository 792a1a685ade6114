"""FLARE's simulator on three phantom hospitals, one of which fails in every round: the job finishes with the two
others, the global model moves, each round's metrics are recorded per site, nothing identifying leaves a site, and
each healthy site promotes the global model by its own champion/challenger rule."""

import io
import json
from contextlib import redirect_stdout

import numpy as np
import psutil
import pytest

pytest.importorskip("nvflare", reason="NVIDIA FLARE is the optional federated extra: pip install -e .[federated]")

from ptxseg.cli.main import main  # noqa: E402
from ptxseg.federated.controller import ROUNDS_RECORD  # noqa: E402
from ptxseg.federated.persistor import GLOBAL_NAME  # noqa: E402
from ptxseg.federated.simulate import SimulationResult  # noqa: E402
from ptxseg.federated.weights import checkpoint_weights  # noqa: E402
from ptxseg.serving.store import ModelStore  # noqa: E402
from tests.federated.hospitals import write_sites_file  # noqa: E402
from tests.support.small_model import write_small_checkpoint  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """``ptxseg federate --simulate``: 3 sites, 2 rounds, min 2 sites, BatchNorm statistics kept at the sites."""
    root = tmp_path_factory.mktemp("federation")
    sites_file = write_sites_file(root, ["site-1", "site-2", "site-3"])
    # site-3 drops out: one of its labels is unreadable, so its training fails inside every round it is sent.
    next((root / "site-3" / "studies" / "labels" / "final").glob("*.nrrd")).write_bytes(b"NRRD0004\nbroken")
    initial = write_small_checkpoint(root / "initial.safetensors")
    before = {child.pid for child in psutil.Process().children(recursive=True)}
    arguments = ["federate", "--init", str(initial), "--out", str(root / "fed"), "--simulate", "--sites", "3"]
    arguments += ["--sites-file", str(sites_file), "--min-sites", "2", "--rounds", "2", "--exclude-batchnorm"]
    arguments += ["--round-timeout", "60", "--image-size", "64", "--batch-size", "2", "--timeout", "600"]
    with redirect_stdout(io.StringIO()) as printed:
        assert main(arguments) == 0
    after = {child.pid for child in psutil.Process().children(recursive=True) if child.is_running()}
    server = root / "fed" / "workspace" / "server" / "simulate_job" / "app_server"
    result = SimulationResult(
        server / GLOBAL_NAME, server / ROUNDS_RECORD, root / "fed" / "workspace" / "simulator.log"
    )
    return root, initial, result, after - before, printed.getvalue()


def test_the_job_finishes_without_the_site_that_dropped_out(simulated):
    root, _, result, leftover, printed = simulated
    record = json.loads(result.rounds_record.read_text())
    trained = {(entry["round"], entry["site"]) for entry in record if entry["task"] == "train"}
    assert trained == {(0, "site-1"), (0, "site-2"), (1, "site-1"), (1, "site-2")}
    assert not leftover, f"the simulator left processes running: {leftover}"
    assert printed.count('"task": "train"') == 4 and f"global model: {result.global_model}" in printed


def test_the_global_model_differs_from_the_start(simulated):
    _, initial, result, _, _ = simulated
    start, _ = checkpoint_weights(initial)
    final, metadata = checkpoint_weights(result.global_model)
    assert metadata.encoder == "efficientnet-b0" and metadata.image_size == 64
    changed = [name for name in start if not np.array_equal(start[name], final[name])]
    assert len(changed) > len(start) // 2
    # BatchNorm statistics stayed at the sites (exclude_batchnorm): the server's are the initial ones.
    assert all(np.array_equal(start[name], final[name]) for name in start if name.endswith("running_mean"))


def test_metrics_are_recorded_per_site_and_round(simulated):
    _, _, result, _, _ = simulated
    for entry in json.loads(result.rounds_record.read_text()):
        if entry["task"] == "train":
            assert 0 <= entry["metrics"]["global_per_image_dice"] <= 1
            assert 0 <= entry["metrics"]["local_per_image_dice"] <= 1
            assert entry["params_type"] == "ParamsType.DIFF"
            assert entry["meta"]["filter_history"] == ["ExcludeVars", "PercentilePrivacy"]


def test_no_image_label_or_patient_id_leaves_a_site(simulated):
    root, _, result, _, _ = simulated
    record = result.rounds_record.read_text()
    assert "patient" not in record and str(root) not in record and ".png" not in record and ".nrrd" not in record
    for entry in json.loads(record):
        # FLARE's own: the filters applied, the metrics again, and its peer context (names and ids of the run).
        assert set(entry["meta"]) <= {
            "client_name",
            "NUM_STEPS_CURRENT_ROUND",
            "initial_metrics",
            "filter_history",
            "props",
        }
        assert all(isinstance(value, float) for value in entry["metrics"].values())
        assert not entry["params"] or all(
            name.startswith(("encoder.", "decoder.", "segmentation_head.")) for name in entry["params"]
        )
        assert not any(name.endswith(("running_mean", "running_var")) for name in entry["params"])


def test_each_healthy_site_promotes_the_global_model_by_its_own_rule(simulated):
    root, _, result, _, _ = simulated
    for site in ("site-1", "site-2"):
        store = ModelStore(root / site / "model")
        last = store.read_record().history[-1]
        assert last["kind"] == "federated" and last["promoted"] and last["federated_rounds"] == 2
        assert store.read_record().source == "federated fine-tuning (FedAvg)"
        stats = json.loads((root / site / "model" / "train_stats.json").read_text())
        assert stats["status"] == "done" and stats["ptxseg_result"]["promoted"]
    assert not ModelStore(root / "site-3" / "model").has_model()
    failed = json.loads((root / "site-3" / "model" / "train_stats.json").read_text())
    assert failed["status"] == "failed" and failed["reason"].startswith("federated: ")
