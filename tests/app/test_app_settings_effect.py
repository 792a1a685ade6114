"""Through the real ``ptxseg serve``: conf ``model`` replaces a model already served (and says so), a restart does
not undo a model promoted since, settings that cannot change the served model are listed in ``/info``, and
settings the server cannot serve without stop it before it starts."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ptxseg.serving.local_server import free_port
from ptxseg.serving.store import ModelStore
from tests.support.server_harness import TEST_CONF, make_test_studies, running_server
from tests.support.small_model import write_small_checkpoint

pytestmark = [pytest.mark.server, pytest.mark.slow]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """A model folder serving a fine-tuned model; a start with conf model, a promotion, and a restart."""
    root = tmp_path_factory.mktemp("settings-effect")
    studies = make_test_studies(root / "studies", n_phantoms=2)
    fine_tuned = write_small_checkpoint(root / "fine-tuned.safetensors", 64)
    asked = write_small_checkpoint(root / "trained.safetensors", 64, dropout=0.2)
    promoted = write_small_checkpoint(root / "promoted.safetensors", 96)
    store = ModelStore(root / "model")
    store.install(fine_tuned, trained=True, validation_dice=0.017, source="fine-tuned on labels/final")
    run = {"root": root, "store": store, "asked": asked, "fine_tuned": fine_tuned, "promoted": promoted}
    conf = {"model": str(asked), "encoder": "efficientnet-b1", "dropout": "0.2"}
    with running_server(studies, store.directory, conf) as server:
        run["info"] = server.get("/info/").json()["ptxseg"]
        run["infer"] = server.post(f"/infer/pneumothorax?image={next(iter(_ids(server)))}&output=json")
        run["log"] = server.log()
        run["previous"], run["record"] = store.previous_path.read_bytes(), store.read_record()
    store.install(promoted, trained=True, source="fine-tuned on labels/final")  # as a promotion would
    with running_server(studies, store.directory, {"model": str(asked), "image_size": "96"}) as server:
        run["restarted"] = server.get("/info/").json()["ptxseg"]
        run["restarted_log"] = server.log()
    return run


def _ids(server) -> list[str]:
    return sorted(server.get("/datastore/?output=all").json()["objects"])


def test_conf_model_replaces_the_served_model_and_keeps_it_as_the_previous(runs):
    model = runs["info"]["model"]
    # /info leaves out the server's paths (conf expose_paths); the log has them.
    assert model["version"] == 2 and model["source"].startswith("conf model=")
    assert model["source"].endswith("/trained.safetensors")
    assert runs["record"].conf_model_sha256 == runs["record"].served_sha256 != ""
    assert runs["previous"] == runs["fine_tuned"].read_bytes()
    assert f"conf model={runs['asked']} (sha256 " in runs["log"] and "installed as the served model" in runs["log"]
    assert runs["infer"].status_code == 200, runs["infer"].text


def test_settings_that_cannot_change_the_served_model_are_listed_in_info_and_the_log(runs):
    ignored = runs["info"]["settings_ignored"]
    assert [note.split("=")[0] for note in ignored] == ["encoder", "image_size"], ignored  # dropout 0.2 matches
    assert "the served model is an efficientnet-b0 U-Net" in ignored[0]
    assert ignored[1].startswith("image_size=128 is not the served model's 64 px: it predicts at 64 px")
    assert (runs["info"]["image_size"], runs["info"]["fine_tuning_image_size"]) == (64, 128)
    assert "setting without effect: encoder=efficientnet-b1 is ignored" in runs["log"]


def test_a_restart_with_the_same_conf_model_does_not_undo_a_later_promotion(runs):
    restarted = runs["restarted"]
    assert restarted["model"]["version"] == 3 and restarted["image_size"] == 96
    assert runs["store"].served_path.read_bytes() == runs["promoted"].read_bytes()
    (note,) = restarted["settings_ignored"]
    assert note.startswith("conf model=") and "is not served: it was installed at an earlier start" in note
    command = f"to serve it again: ptxseg export --model {runs['asked']} --app {runs['store'].directory}"
    assert f"setting without effect: conf model={runs['asked']} is not served" in runs["restarted_log"]
    assert command in runs["restarted_log"]


def test_settings_the_server_cannot_serve_without_stop_ptxseg_serve_before_it_starts(runs):
    root, store = runs["root"], runs["store"]
    refusals = {
        "pre-screening without a PACS": ({"prescreen": "true"}, "conf prescreen applies to a PACS only"),
        "MC dropout of the served model": ({"mc_samples": "4", "dropout": "0.3"}, "the served model has none"),
    }
    for name, (conf, words) in refusals.items():
        settings = {**TEST_CONF, "model_dir": str(store.directory), **conf}
        command = [sys.executable, "-m", "ptxseg", "serve", "--studies", str(root / "studies")]
        command += ["--port", str(free_port())] + [item for pair in settings.items() for item in ("--conf", *pair)]
        environment = {key: value for key, value in os.environ.items() if not key.startswith("PTXSEG_")}
        finished = subprocess.run(command, capture_output=True, text=True, timeout=300, env=environment)
        output = finished.stdout + finished.stderr
        assert finished.returncode == 2 and words in output, (name, output[-2000:])
        assert "ptxseg server: http" not in output  # refused before a server was started
