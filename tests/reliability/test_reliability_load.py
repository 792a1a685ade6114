"""Load: concurrent inferences give exactly the sequential results; a soak of mixed traffic neither errs nor leaks.

The soak runs ``PTXSEG_SOAK_SECONDS`` (default 90) of loopback traffic from four clients; the server tree's
resident memory may grow by at most ``SOAK_GROWTH_BOUND_MB`` between the end of the warm-up and the end.
"""

from __future__ import annotations

import os
import random
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from benchmarks.common.process_memory import tree_rss_bytes
from ptxseg.io.labels import write_label
from ptxseg.io.reader import read_cxr
from ptxseg.serving.local_server import infer_all

pytestmark = pytest.mark.server

CONCURRENT = 16
SOAK_SECONDS = float(os.environ.get("PTXSEG_SOAK_SECONDS", "90"))
SOAK_GROWTH_BOUND_MB = 50
SOAK_CLIENTS = 4


def _comparable(result: dict) -> dict:
    return {key: value for key, value in result.items() if key != "latencies_ms"}


def test_concurrent_inferences_on_different_images_give_the_sequential_results(attack_server):
    odd = [image_id for image_id in attack_server.good_ids if image_id.startswith("odd-")]
    phantoms = [image_id for image_id in attack_server.good_ids if image_id not in odd]
    image_ids = (odd + phantoms[::2] + phantoms[1::2])[:CONCURRENT]
    assert len(image_ids) == CONCURRENT
    sequential = {image_id: infer_all(attack_server, image_id) for image_id in image_ids}
    assert all(response.status_code == 200 for response, _, _ in sequential.values())
    # A mix-up shows only between images whose answers differ. The untrained model's masks and probabilities
    # hardly differ between same-sized phantoms, but the grids, formats and warnings of these studies do.
    distinct = {(label, repr(_comparable(result))) for _, label, result in sequential.values()}
    assert len(distinct) >= 4, len(distinct)
    start = threading.Barrier(CONCURRENT)

    def infer_together(image_id):
        start.wait()
        return infer_all(attack_server, image_id)

    with ThreadPoolExecutor(CONCURRENT) as pool:
        concurrent = dict(zip(image_ids, pool.map(infer_together, image_ids), strict=True))
    for image_id in image_ids:
        response, label, result = concurrent[image_id]
        assert response.status_code == 200, (image_id, response.text)
        _, expected_label, expected_result = sequential[image_id]
        assert label == expected_label, f"{image_id}: another label than when inferred alone"
        assert _comparable(result) == _comparable(expected_result), image_id


class _Traffic:
    """What one annotator does, at random: infer, submit a label, ask for the next image, look at the state."""

    def __init__(self, server, labels: dict, seed: int):
        self.server = server
        self.labels = labels
        self.random = random.Random(seed)
        self.failures: list[str] = []
        self.count = 0

    def run(self, until: float) -> None:
        actions = [self._infer, self._infer, self._label, self._next, self._state]
        while time.monotonic() < until:
            response = self.random.choice(actions)()
            self.count += 1
            if not response.ok:
                self.failures.append(
                    f"{response.request.method} {response.url}: {response.status_code} {response.text[:200]}"
                )

    def _infer(self):
        image_id = self.random.choice(self.server.good_ids)
        return self.server.post("/infer/pneumothorax", params={"image": image_id, "output": "all"})

    def _label(self):
        image_id, payload = self.random.choice(list(self.labels.items()))
        return self.server.put(
            "/datastore/label", params={"image": image_id, "tag": "final"}, files={"label": ("label.nrrd", payload)}
        )

    def _next(self):
        return self.server.post(f"/activelearning/{self.random.choice(['first', 'random', 'uncertainty'])}", json={})

    def _state(self):
        return self.server.get(self.random.choice(["/info/", "/datastore/?output=stats", "/datastore/?output=all"]))


def _soak_labels(server, folder) -> dict[str, bytes]:
    labels = {}
    for image_id in ("demo-chest-010", "demo-chest-012"):
        image = read_cxr(server.studies / f"{image_id}.png")
        mask = np.zeros(image.shape, np.uint8)
        mask[30:90, 20:50] = 1
        labels[image_id] = write_label(mask, like=image, path=folder / f"{image_id}.nrrd").read_bytes()
    return labels


@pytest.mark.slow
def test_a_soak_of_mixed_traffic_neither_errs_nor_grows(attack_server, tmp_path):
    clients = [_Traffic(attack_server, _soak_labels(attack_server, tmp_path), seed) for seed in range(SOAK_CLIENTS)]
    log_before = len(attack_server.log())
    until = time.monotonic() + SOAK_SECONDS
    threads = [threading.Thread(target=client.run, args=(until,)) for client in clients]
    for thread in threads:
        thread.start()
    samples = []
    while time.monotonic() < until:
        samples.append(tree_rss_bytes(attack_server.process.pid))
        time.sleep(1.0)
    for thread in threads:
        thread.join()
    failures = [failure for client in clients for failure in client.failures]
    assert not failures, failures[:5]
    assert sum(client.count for client in clients) > SOAK_SECONDS  # it was traffic, not a trickle
    assert "Traceback" not in attack_server.log()[log_before:]
    # Warm-up (thread pools, caches, first scoring) is the first quarter; compare its end with the end.
    quarter = max(1, len(samples) // 4)
    growth = statistics.median(samples[-quarter:]) - statistics.median(samples[quarter : 2 * quarter])
    trace = [round(sample / 2**20) for sample in samples]
    assert growth < SOAK_GROWTH_BOUND_MB * 2**20, f"grew {growth / 2**20:.0f} MB; resident MB each second: {trace}"
