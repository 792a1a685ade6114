"""The "inference under load" scenario, shared by its benchmark and its test: many concurrent ``/infer`` while the
server fine-tunes a model and scores the worklist, compared with the same requests made alone."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email import message_from_bytes

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
    response = server.post(f"/infer/pneumothorax?image={image_id}&output=all", timeout=600)
    seconds = time.perf_counter() - started
    if response.status_code != 200:
        return InferAnswer(response.status_code, None, None, seconds)
    header = b"Content-Type: " + response.headers["content-type"].encode() + b"\r\n\r\n"
    parts = {
        part.get_param("name", header="content-disposition"): part.get_payload(decode=True)
        for part in message_from_bytes(header + response.content).get_payload()
    }
    result = {key: value for key, value in json.loads(parts["params"]).items() if key != "latencies_ms"}
    return InferAnswer(200, result, parts["image"], seconds)


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
