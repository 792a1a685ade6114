"""The served CPU runtime is chosen by measurement: gated against PyTorch fp32, timed, switched to once known."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.server_harness import make_test_studies, running_server
from tests.support.server_tools import server_tree

pytestmark = [pytest.mark.server, pytest.mark.slow]

MEASURE_TIMEOUT_S = 600


def _runtime(server) -> dict:
    return server.get("/info/").json()["ptxseg"]["runtime"]


def _server_memory_maps(server) -> str:
    process = next(p for p in server_tree(server) if "monailabel.main" in " ".join(p.cmdline()))
    return (Path("/proc") / str(process.pid) / "maps").read_text()


def test_the_measured_runtime_serves_and_info_says_why(tmp_path):
    studies = make_test_studies(tmp_path / "studies", n_phantoms=2)
    with running_server(studies, tmp_path / "model", {"measure_runtimes": "true"}) as server:
        image = sorted(server.get("/datastore/?output=all").json()["objects"])[0]
        deadline = time.monotonic() + MEASURE_TIMEOUT_S
        commands = set()
        while _runtime(server).get("choice") is None:
            assert time.monotonic() < deadline, _runtime(server)
            commands |= {" ".join(process.cmdline()) for process in server_tree(server)}
            time.sleep(5)
        answer = server.post(f"/infer/pneumothorax?image={image}&output=json")
        runtime = _runtime(server)
        server_maps = _server_memory_maps(server)

    # Both the server and the measuring child run lean: MONAI's eager imports of pyarrow and Triton are not made.
    lean = [command for command in commands if "ptxseg.compute.lean_process" in command]
    assert any("monailabel.main start_server" in command for command in lean), commands
    assert any("ptxseg.inference.runtime_choice" in command for command in lean), commands
    assert "libarrow" not in server_maps and "/triton/" not in server_maps

    assert answer.status_code == 200, answer.text
    choice = runtime["choice"]
    passing = [row for row in choice["candidates"] if row["passed"]]
    assert choice["chosen"] == min(passing, key=lambda row: row["median_ms"])["runtime"]
    assert {row["runtime"] for row in choice["candidates"]} >= {"torch-cpu-fp32", "openvino-f32", "onnxruntime-fp32"}
    assert any(row["runtime"].startswith("openvino-int8") for row in choice["candidates"])
    assert runtime["serving"] == choice["chosen"] == answer.json()["backend"]
    assert runtime["reason"] == choice["reason"] and "agree with PyTorch fp32" in choice["reason"]
    assert choice["calibration"].startswith("256 phantoms (2 readable served studies")  # the studies were looked at
