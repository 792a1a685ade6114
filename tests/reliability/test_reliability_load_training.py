"""16 concurrent /infer while the server fine-tunes and scores: every answer equals the same request made alone.

The latency bound is generous and only catches a server that stalls (a request queued behind training would wait
minutes); the latencies themselves are a benchmark (benchmarks/bench_load.py, RESULTS.md).
"""

from __future__ import annotations

import pytest

from benchmarks.common.load import infer_concurrently, infer_one, start_training_and_scoring
from tests.support.server_harness import make_test_studies, running_server

pytestmark = [pytest.mark.server, pytest.mark.slow]

CONCURRENT = 16
STALL_BOUND_S = 120  # 2 cores, a b0 U-Net at 128 px: alone each answer takes well under a second


def test_concurrent_inferences_during_training_and_scoring_are_correct(tmp_path):
    studies = make_test_studies(tmp_path / "studies", n_phantoms=16)
    with running_server(studies, tmp_path / "model") as server:
        objects = server.get("/datastore/?output=all").json()["objects"]
        readable = [key for key, entry in objects.items() if not entry["image"]["info"].get("ptx_unreadable")]
        image_ids = sorted(readable)[:CONCURRENT]
        alone = [infer_one(server, image_id) for image_id in image_ids]
        start_training_and_scoring(server, epochs=50)

        loaded = infer_concurrently(server, image_ids)

        still_training = server.get("/train/").json().get("status") == "RUNNING"
        server.delete("/train/")
    assert [answer.status for answer in alone] == [200] * CONCURRENT
    assert [answer.status for answer in loaded] == [200] * CONCURRENT
    for image_id, quiet, busy in zip(image_ids, alone, loaded, strict=True):
        assert busy.result == quiet.result, image_id
        assert busy.label == quiet.label, image_id
    assert max(answer.seconds for answer in loaded) < STALL_BOUND_S
    assert still_training  # the requests really met a running fine-tuning
