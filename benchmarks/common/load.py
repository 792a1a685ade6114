"""The "inference under load" scenario, shared by its benchmark and its test: many concurrent ``/infer`` while the
server fine-tunes a model and scores the worklist, compared with the same requests made alone."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ptxseg.serving.local_server import infer_all

__all__ = ["InferAnswer", "infer_concurrently", "infer_one", "start_training_and_scoring"]


@dataclass(frozen=True)
class InferAnswer:
    """One ``/infer?output=all`` answer: status, result JSON without its timings, label bytes, seconds taken."""

    status: int
    result: dict | None
    label: bytes | None
    seconds: float


def infer_one(server, image_id: str) -> InferAnswer:
    """``POST /infer/pneumothorax?output=all`` for one study, timed from the client."""
    started = time.perf_counter()
    response, label, result = infer_all(server, image_id, timeout=600)
    seconds = time.perf_counter() - started
    if result is not None:
        result = {key: value for key, value in result.items() if key != "latencies_ms"}
    return InferAnswer(response.status_code, result, label, seconds)


def infer_concurrently(server, image_ids: list[str]) -> list[InferAnswer]:
    """All of ``image_ids`` at once, one client thread each; answers in the order of ``image_ids``."""
    with ThreadPoolExecutor(max_workers=len(image_ids)) as clients:
        return list(clients.map(lambda image_id: infer_one(server, image_id), image_ids))


def start_training_and_scoring(server, epochs: int, timeout_s: float = 300) -> None:
    """Start a fine-tuning run and a scoring run, and return once the trainer reports its first epoch running."""
    # Patience as long as the run: early stopping must not end it (and promote a new model) during the requests.
    response = server.post("/train/pneumothorax", json={"max_epochs": epochs, "patience": epochs})
    if response.status_code != 200:
        raise RuntimeError(f"training did not start: {response.status_code} {response.text}")
    deadline = time.monotonic() + timeout_s
    while server.get("/train/").json().get("status") != "RUNNING":
        if time.monotonic() > deadline:
            raise TimeoutError("the training run never reported RUNNING")
        time.sleep(0.5)
    response = server.post("/scoring/pneumothorax_scores", json={})
    if response.status_code != 200:
        raise RuntimeError(f"scoring did not start: {response.status_code} {response.text}")
