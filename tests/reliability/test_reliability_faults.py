"""Faults lose nothing: failing trainings, a SIGKILL mid-training and mid-write, corrupt and foreign model files.

One studies folder and one model folder live through four server runs, each a module fixture that records what
the tests then check:

1. failing trainings (no labels, a diverging loss, out of memory); labels submitted; then the whole server tree
   is SIGKILLed while it trains and while it writes a label;
2. a restart on the same folders; then a SIGTERM;
3. a restart after garbage was written over the served model (a good previous model exists);
4. a restart after a foreign safetensors file was put in its place.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import psutil
import pytest
import requests

from ptxseg.io.atomic import TEMPORARY_PREFIX
from ptxseg.io.labels import write_label
from ptxseg.io.reader import read_cxr
from ptxseg.model.checkpoint import CheckpointMetadata, save_checkpoint
from ptxseg.model.factory import build_model
from ptxseg.phantom.demo import write_studies
from ptxseg.serving.local_server import stop_server
from ptxseg.serving.store import PREVIOUS_NAME, SERVED_NAME, ModelStore
from tests.support.hostile_files import write_foreign_safetensors
from tests.support.io_fixtures import write_pillow
from tests.support.server_harness import running_server
from tests.support.server_tools import (
    group_statuses,
    kill_server_tree,
    read_mask,
    served_digest,
    server_groups,
    server_tree,
    signal_groups,
    train_and_wait,
    wait_for_stats,
)

pytestmark = [pytest.mark.server, pytest.mark.slow]

BIG = "big-study"  # 4096 x 4096: a random label of it takes about 0.1 s to write, long enough to catch
BIG_SIDE = 4096
WRITE_ATTEMPTS = 5  # tries at catching the big label's write in the act: each takes about 0.1 s


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """Unlabelled phantom studies plus one big study, and an empty model folder."""
    root = tmp_path_factory.mktemp("fault-lab")
    studies = write_studies(root / "studies", n=6, size=128, seed=5, label_every=0)
    pixels = (np.random.default_rng(1).random((BIG_SIDE, BIG_SIDE)) * 255).astype(np.uint8)
    write_pillow(root / "studies" / f"{BIG}.png", pixels)
    return SimpleNamespace(root=root, studies=root / "studies", model_dir=root / "model", phantoms=studies)


def _model_state(server) -> tuple[int, str]:
    return server.get("/info/").json()["ptxseg"]["model"]["version"], served_digest(server.model_dir)


def _upload_label(server, image_id: str, mask: np.ndarray, folder: Path):
    image = read_cxr(next(server.studies.glob(f"{image_id}.*")))
    path = write_label(mask, like=image, path=folder / f"{image_id}-{mask.sum()}.nrrd")
    with open(path, "rb") as stream:
        return server.put("/datastore/label", params={"image": image_id, "tag": "final"}, files={"label": stream})


def _submit_labels(server, lab) -> dict[str, np.ndarray]:
    masks = {study.image_id: study.phantom.mask.astype(np.uint8) for study in lab.phantoms[:4]}
    masks[BIG] = (np.random.default_rng(2).random((BIG_SIDE, BIG_SIDE)) > 0.5).astype(np.uint8)
    for image_id, mask in masks.items():
        response = _upload_label(server, image_id, mask, lab.root)
        assert response.status_code == 200, response.text
    return masks


def _trainer(server) -> psutil.Process:
    return next(p for p in server_tree(server) if "monailabel.interfaces.utils.app" in " ".join(p.cmdline()))


def _train_out_of_memory(server) -> dict:
    """A real allocation failure: once training runs, the trainer's address space is capped at its current size."""
    assert server.post("/train/pneumothorax", json={"max_epochs": 100}).status_code == 200
    wait_for_stats(server.model_dir, lambda stats: stats.get("status") == "running" and stats.get("epoch", 0) >= 1)
    trainer = _trainer(server)
    size = trainer.memory_info().vms
    trainer.rlimit(psutil.RLIMIT_AS, (size, size))
    return server.wait_for_training()


def _upload_in_background(server, image_id: str, mask: np.ndarray, folder: Path) -> tuple[threading.Thread, list]:
    """Start uploading a label; the returned list receives the status code, or None if the server died first."""
    outcome = []

    def upload():
        try:
            outcome.append(_upload_label(server, image_id, mask, folder).status_code)
        except requests.ConnectionError:
            outcome.append(None)  # the server was killed mid-request: the point of the exercise

    writer = threading.Thread(target=upload, daemon=True)
    writer.start()
    return writer, outcome


def _partial_labels(folder: Path) -> list[str]:
    names = (entry.name for entry in os.scandir(folder))
    return [name for name in names if name.startswith(TEMPORARY_PREFIX) and name.endswith(f".{BIG}.nrrd")]


def _freeze_mid_write(groups: set[int], folder: Path, writer: threading.Thread) -> list[str]:
    """Stop the server tree (SIGSTOP) as soon as a temporary label file appears; returns the temporary files that
    are still there once every process has stopped, so that a SIGKILL now is sure to cut the write. Returns []
    (and lets the tree run on) when the write finished before the stop took hold."""
    while writer.is_alive():
        if _partial_labels(folder):
            signal_groups(groups, signal.SIGSTOP)
            _wait_until_stopped(groups)
            partial = _partial_labels(folder)
            if not partial:
                signal_groups(groups, signal.SIGCONT)
            return partial
        time.sleep(0.002)
    return []


def _wait_until_stopped(groups: set[int]) -> None:
    deadline = time.monotonic() + 10
    stopped = (psutil.STATUS_STOPPED, psutil.STATUS_ZOMBIE)
    while any(status not in stopped for status in group_statuses(groups)):
        assert time.monotonic() < deadline, "the server tree did not stop on SIGSTOP"
        time.sleep(0.01)


def _kill_while_training_and_writing_a_label(server, lab, stored: np.ndarray) -> dict:
    """SIGKILL everything while training runs and a new label of the big study is half written.

    A random mask keeps the compressed write busy for about 0.1 s; the tree is frozen the moment the temporary
    file appears and killed only if the file is still there. A write that finished first is a completed upload
    (its mask is now the stored label) and the next attempt begins. Returns the temporary files seen at the kill
    (none: every attempt missed), the mask whose write was cut and the label stored before it.
    """
    assert server.post("/train/pneumothorax", json={"max_epochs": 200}).status_code == 200
    wait_for_stats(server.model_dir, lambda stats: stats.get("status") == "running" and stats.get("epoch", 0) >= 1)
    groups = server_groups(server)
    folder = lab.studies / "labels" / "final"
    for attempt in range(WRITE_ATTEMPTS):
        mask = (np.random.default_rng(10 + attempt).random((BIG_SIDE, BIG_SIDE)) > 0.5).astype(np.uint8)
        writer, outcome = _upload_in_background(server, BIG, mask, lab.root)
        partial = _freeze_mid_write(groups, folder, writer)
        if partial:
            kill_server_tree(server, groups)
            return {"partial_label_files": partial, "cut_mask": mask, "stored": stored}
        writer.join(120)
        assert outcome == [200], outcome
        stored = mask
    kill_server_tree(server, groups)
    return {"partial_label_files": [], "cut_mask": None, "stored": stored}


@pytest.fixture(scope="module")
def first_run(lab):
    with running_server(lab.studies, lab.model_dir) as server:
        record = {"no_labels": train_and_wait(server, {"max_epochs": 1}), "initial": _model_state(server)}
        record["labels"] = _submit_labels(server, lab)
        record["diverged"] = train_and_wait(server, {"max_epochs": 3, "learning_rate": 1e30})
        record["diverged_stats"] = server.get("/info/").json()["train_stats"]["pneumothorax"]
        record["out_of_memory"] = _train_out_of_memory(server)
        record["out_of_memory_stats"] = server.get("/info/").json()["train_stats"]["pneumothorax"]
        record["before_kill"] = _model_state(server)
        record["cut_write"] = _kill_while_training_and_writing_a_label(server, lab, record["labels"][BIG])
        record["labels"][BIG] = record["cut_write"]["stored"]
    return record


def _stored_label(server, image_id: str, folder: Path) -> np.ndarray:
    response = server.get("/datastore/label", params={"label": image_id, "tag": "final"})
    assert response.status_code == 200, response.text
    path = folder / f"stored-{image_id}.nrrd"
    path.write_bytes(response.content)
    return read_mask(path)


@pytest.fixture(scope="module")
def second_run(lab, first_run):
    with running_server(lab.studies, lab.model_dir) as server:
        record = {
            "state": _model_state(server),
            "labels": {image_id: _stored_label(server, image_id, lab.root) for image_id in first_run["labels"]},
            "train_stats": server.get("/info/").json()["train_stats"]["pneumothorax"],
            "infer": server.post("/infer/pneumothorax", params={"image": BIG, "output": "json"}).status_code,
        }
        tree = server_tree(server)
        started = time.monotonic()
        stop_server(server)
        record["stop_seconds"] = time.monotonic() - started
        record["survivors"] = [process.pid for process in tree if _alive(process)]
    return record


def _alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _restart_record(lab) -> dict:
    with running_server(lab.studies, lab.model_dir) as server:
        return {
            "problem": server.get("/info/").json()["ptxseg"]["problem"],
            "digest": served_digest(lab.model_dir),
            "infer": server.post("/infer/pneumothorax", params={"image": BIG, "output": "json"}).status_code,
            "log": server.log(),
        }


@pytest.fixture(scope="module")
def corrupt_run(lab, second_run):
    """A promotion as fine-tuning makes one (so a good previous model exists), then garbage over the served file."""
    newer = save_checkpoint(
        lab.root / "newer.safetensors",
        build_model("efficientnet-b0"),
        CheckpointMetadata(encoder="efficientnet-b0", image_size=128),
    )
    ModelStore(lab.model_dir).install(newer, trained=True, source="a promotion")
    previous = _digest(lab.model_dir / PREVIOUS_NAME)
    (lab.model_dir / SERVED_NAME).write_bytes(b"\x00garbage" * 4096)
    return {"previous": previous, **_restart_record(lab)}


@pytest.fixture(scope="module")
def foreign_run(lab, corrupt_run):
    previous = _digest(lab.model_dir / PREVIOUS_NAME)
    write_foreign_safetensors(lab.model_dir / SERVED_NAME)
    return {"previous": previous, **_restart_record(lab)}


def _assert_failed_clearly(status: dict, stats: dict | None, words: str) -> None:
    assert status["status"] == "ERROR", status
    assert status["details"][-1].startswith("ptxseg_error: ") and words in status["details"][-1], status["details"]
    if stats is not None:
        assert stats["status"] == "failed" and words in stats["reason"], stats


def test_training_without_labels_fails_with_a_clear_status(first_run):
    _assert_failed_clearly(first_run["no_labels"], None, "need at least 2 labelled images")


def test_a_diverging_training_fails_clearly_and_keeps_the_served_model(first_run):
    _assert_failed_clearly(first_run["diverged"], first_run["diverged_stats"], "training loss became")
    assert first_run["before_kill"] == first_run["initial"]


def test_training_out_of_memory_fails_clearly_and_keeps_the_served_model(first_run):
    _assert_failed_clearly(first_run["out_of_memory"], first_run["out_of_memory_stats"], "allocate memory")
    assert first_run["before_kill"] == first_run["initial"]


def test_every_submitted_label_survives_a_kill_during_training(first_run, second_run):
    for image_id, mask in first_run["labels"].items():
        assert np.array_equal(second_run["labels"][image_id], mask), image_id


def test_a_label_write_cut_by_the_kill_leaves_the_old_label(first_run, second_run):
    cut = first_run["cut_write"]
    assert cut["partial_label_files"], f"all {WRITE_ATTEMPTS} writes finished before the kill: nothing was tested"
    assert np.array_equal(second_run["labels"][BIG], cut["stored"])
    assert not np.array_equal(cut["stored"], cut["cut_mask"])


def test_the_served_model_survives_a_kill_during_training(first_run, second_run):
    assert second_run["state"] == first_run["before_kill"]  # same version, same file digest
    assert second_run["infer"] == 200


def test_a_killed_training_reads_as_interrupted_not_running(second_run):
    stats = second_run["train_stats"]
    assert stats["status"] == "failed" and "interrupted" in stats["reason"], stats


def test_sigterm_stops_the_server_and_everything_it_started_promptly(second_run):
    assert second_run["stop_seconds"] < 20 and not second_run["survivors"], second_run


def test_a_corrupt_served_model_is_set_aside_and_the_previous_one_served(corrupt_run, lab):
    problem = corrupt_run["problem"]
    assert "could not be loaded" in problem and "serving the previous model" in problem, problem
    assert problem in corrupt_run["log"]
    assert corrupt_run["digest"] == corrupt_run["previous"] and corrupt_run["infer"] == 200
    assert list(lab.model_dir.glob("pneumothorax.rejected-*.safetensors"))


def test_a_foreign_served_model_is_refused_at_start_and_the_previous_one_served(foreign_run):
    problem = foreign_run["problem"]
    assert "does not fit" in problem and "serving the previous model" in problem, problem
    assert problem in foreign_run["log"]
    assert foreign_run["digest"] == foreign_run["previous"] and foreign_run["infer"] == 200


def _partial_copy(entry: os.DirEntry) -> bool:
    """A temporary copy of the big checkpoint, caught before it is complete."""
    try:
        return entry.name.startswith(TEMPORARY_PREFIX) and entry.stat().st_size > 2 * 2**20
    except FileNotFoundError:
        return False


INSTALL = (
    "import sys; from ptxseg.serving.store import ModelStore; "
    "ModelStore(sys.argv[1]).install(sys.argv[2], trained=True)"
)


def test_a_crash_while_a_model_is_installed_leaves_the_served_one(tmp_path):
    store = ModelStore(tmp_path / "model")
    first = tmp_path / "first.safetensors"
    first.write_bytes(os.urandom(2**20))
    store.install(first, trained=True)
    served, version = _digest(store.served_path), store.read_record().version
    big = tmp_path / "big.safetensors"
    with open(big, "wb") as stream:
        stream.truncate(512 * 2**20)
    process = subprocess.Popen([sys.executable, "-c", INSTALL, str(store.directory), str(big)])
    partial = []
    while process.poll() is None and not partial:
        partial = [entry.name for entry in os.scandir(store.directory) if _partial_copy(entry)]
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert partial, "the install finished before it could be cut: nothing was tested"
    assert _digest(store.served_path) == served and store.read_record().version == version
