"""Fuzzing the live server: mutated images through upload and inference, mutated labels through label upload.

Every request ends in a 200 or a 4xx whose JSON says why: no 5xx, no request over ``MAX_SECONDS``, the server tree's
memory bounded, and the server answering ``/info/`` at the end. The cases come from ``fuzz_inputs`` under another
seed than the in-process run; ``PTXSEG_FUZZ_SERVER_CASES`` (default 300) makes longer runs.
"""

from __future__ import annotations

import os
import time
from collections import Counter

import pytest

from benchmarks.common.process_memory import tree_rss_bytes
from tests.support.fuzz_inputs import fuzz_case, make_seeds
from tests.support.server_harness import make_test_studies, running_server

pytestmark = [pytest.mark.server, pytest.mark.slow]

CASES = int(os.environ.get("PTXSEG_FUZZ_SERVER_CASES", "300"))
SEED = 1000 + int(os.environ.get("PTXSEG_FUZZ_SEED", "0"))
MAX_SECONDS = 60
MAX_RSS_GROWTH_MB = 500


def _send(server, case, index: int, targets: dict) -> list[tuple[str, int, float]]:
    """The requests for one case: (what, status, seconds) of each; a label goes to the study its seed belongs to."""
    sent = []

    def timed(what: str, call) -> int:
        began = time.monotonic()
        response = call()
        seconds = time.monotonic() - began
        if response.status_code != 200:
            assert response.headers.get("content-type", "").startswith("application/json"), response.text[:300]
            assert response.json().get("detail"), response.text[:300]
        sent.append((what, response.status_code, seconds))
        return response.status_code

    upload = (f"case{case.suffix}", case.content)
    if case.label:
        target = targets[case.suffix == ".png"]
        timed("label", lambda: server.put("/datastore/label", params={"image": target, "tag": "final"},
                                          files={"label": upload}, timeout=MAX_SECONDS))  # fmt: skip
        return sent
    image_id = f"fuzz-{index}"
    status = timed("image", lambda: server.put("/datastore/image", params={"image": image_id}, files={"file": upload},
                                               timeout=MAX_SECONDS))  # fmt: skip
    if status == 200:
        timed("infer", lambda: server.post(f"/infer/pneumothorax?image={image_id}&output=json", timeout=MAX_SECONDS))
    return sent


def test_every_mutated_upload_is_stored_inferred_or_refused_and_the_server_survives(tmp_path, siim_sample):
    seeds = make_seeds(tmp_path / "seeds", sorted((siim_sample / "dicom").glob("*.dcm")))
    studies = make_test_studies(tmp_path / "studies", n_phantoms=4)
    with running_server(studies, tmp_path / "model") as server:
        targets = {}
        for is_png, name in ((False, "p8.dcm"), (True, "g.png")):
            targets[is_png] = f"fuzz-target-{name.replace('.', '-')}"
            with open(tmp_path / "seeds" / name, "rb") as stream:
                response = server.put("/datastore/image", params={"image": targets[is_png]}, files={"file": stream})
            assert response.status_code == 200, response.text
        server.post(f"/infer/pneumothorax?image={targets[False]}&output=json")  # the model warm before measuring
        rss_before = tree_rss_bytes(server.process.pid)
        began = time.monotonic()

        sent = [request for index in range(CASES) for request in _send(server, fuzz_case(seeds, index, SEED), index,
                                                                       targets)]  # fmt: skip

        elapsed = time.monotonic() - began
        growth_mb = (tree_rss_bytes(server.process.pid) - rss_before) / 2**20
        alive = server.get("/info/").status_code
        log = server.log()

    counts = Counter(f"{what} {status}" for what, status, _ in sent)
    print(f"\nfuzz server: {CASES} inputs, {len(sent)} requests in {elapsed:.0f} s: {dict(sorted(counts.items()))}; "
          f"slowest {max(seconds for *_, seconds in sent):.2f} s; memory growth {growth_mb:.0f} MB")  # fmt: skip
    assert not [request for request in sent if request[1] >= 500], log[-3000:]
    assert max(seconds for *_, seconds in sent) < MAX_SECONDS
    assert growth_mb < MAX_RSS_GROWTH_MB
    assert alive == 200
    assert counts["image 200"] and counts["infer 200"] and counts["label 200"]
