"""``ptxseg serve`` refuses to start, saying why, on bad settings, an unsafe token setup or an unsafe model file.

All refusals run at once (each is a separate ``ptxseg serve``), so the module costs about one server start.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from ptxseg.serving.local_server import free_port
from tests.support.hostile_files import write_foreign_torch_checkpoint, write_pickle_payload
from tests.support.server_harness import TEST_CONF, make_test_studies

pytestmark = pytest.mark.server

# name -> (extra conf, extra environment, words the refusal must contain); {root} is the test folder.
QUICK_REFUSALS = {
    "unknown conf key": ({"learnin_rate": "0.1"}, {}, "unknown conf key(s) ['learnin_rate']; valid keys: ["),
    "negative epochs": ({"epochs": "-3"}, {}, "epochs must be >= 1, got -3"),
    "threshold 2.0": ({"threshold": "2.0"}, {}, "threshold must lie strictly between 0 and 1, got 2.0"),
    "a word for a number": ({"image_size": "big"}, {}, "conf image_size='big'"),
    "missing model file": ({"model": "{root}/none.safetensors"}, {}, "does not exist"),
    "empty token file": ({}, {"PTXSEG_TOKEN_FILE": "{root}/empty-token"}, "is empty"),
    "unreadable token file": ({}, {"PTXSEG_TOKEN_FILE": "{root}/no-such-token"}, "cannot be read"),
    "short token": ({}, {"PTXSEG_TOKEN": "letmein"}, "use at least 16"),
    "one MC sample": ({"mc_samples": "1"}, {}, "mc_samples must be 0 (flip-TTA uncertainty) or >= 2 (MC dropout)"),
    "dropout 1": ({"dropout": "1"}, {}, "dropout must be in [0, 1), got 1.0"),
    "negative training threads": ({"train_threads": "-2"}, {}, "train_threads must be >= 0, got -2"),
}
# These pass the quick checks and are refused by the app when it loads the model (a full server start).
MODEL_REFUSALS = {
    "pickle payload as model": ({"model": "{root}/payload.pt"}, "not a safe checkpoint"),
    "foreign network as model": ({"model": "{root}/foreign.pt"}, "does not fit"),
    "MC dropout without dropout": ({"mc_samples": "4"}, "MC dropout needs a model with dropout"),
}


def _serve(root, name: str, conf: dict, env: dict) -> subprocess.Popen:
    """Start ``ptxseg serve`` with its own empty model folder; the token variables are only those of ``env``."""
    settings = {**TEST_CONF, "model_dir": str(root / name.replace(" ", "-")), **conf}
    command = [sys.executable, "-m", "ptxseg", "serve", "--studies", str(root / "studies"), "--port", str(free_port())]
    for key, value in settings.items():
        command += ["--conf", key, value.format(root=root)]
    environment = {key: value for key, value in os.environ.items() if not key.startswith("PTXSEG_TOKEN")}
    environment |= {key: value.format(root=root) for key, value in env.items()}
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment)


@pytest.fixture(scope="module")
def refusals(tmp_path_factory) -> dict:
    """name -> (exit status, everything printed), for every refusal above, started together."""
    root = tmp_path_factory.mktemp("refusals")
    make_test_studies(root / "studies", n_phantoms=2)
    (root / "empty-token").write_text("\n")
    write_pickle_payload(root / "payload.pt", root / "payload-ran")
    write_foreign_torch_checkpoint(root / "foreign.pt")
    processes = {name: _serve(root, name, conf, env) for name, (conf, env, _) in QUICK_REFUSALS.items()}
    processes |= {name: _serve(root, name, conf, {}) for name, (conf, _) in MODEL_REFUSALS.items()}
    results = {}
    for name, process in processes.items():
        try:
            output, _ = process.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            process.kill()
            output = f"still running after 300 s: {process.communicate()[0]}"
        results[name] = (process.returncode, output)
    results["root"] = root
    return results


@pytest.mark.parametrize("name", QUICK_REFUSALS)
def test_a_bad_setting_stops_ptxseg_serve_at_once_in_one_line(refusals, name):
    status, output = refusals[name]
    assert status == 2, output[-2000:]
    assert QUICK_REFUSALS[name][2] in output, output[-2000:]
    assert "ptxseg serve: error: " in output and "Traceback" not in output
    assert "ptxseg server: http" not in output  # refused before any server was started


@pytest.mark.parametrize("name", MODEL_REFUSALS)
def test_an_unsafe_or_foreign_model_file_stops_the_server_with_the_reason(refusals, name):
    status, output = refusals[name]
    assert status not in (0, None), output[-2000:]
    assert MODEL_REFUSALS[name][1] in output, output[-3000:]


def test_the_pickle_payload_never_ran(refusals):
    root = refusals["root"]
    assert "nothing in it was run" in refusals["pickle payload as model"][1]
    assert not (root / "payload-ran").exists()
    # The payload is live: an unsafe load runs it (this is what the server must never do).
    unsafe_marker = root / "unsafe-load-ran"
    torch.load(write_pickle_payload(root / "payload-check.pt", unsafe_marker), weights_only=False)
    assert unsafe_marker.read_text() == "the payload ran"
