"""Monitoring in the running app: each /infer and each final label is recorded, and GET /monitoring/ reports the
agreement between what the model showed and what the annotator submitted; 3D Slicer's client reads it."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from ptxseg.io.labels import read_label, write_label
from ptxseg.io.reader import read_cxr
from ptxseg.serving.local_server import infer_all
from tests.support.server_harness import make_test_studies, running_server

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "slicer_plugin" / "PneumothoraxAnnotator"))
from PneumothoraxAnnotatorLib.client import PtxsegClient  # noqa: E402
from PneumothoraxAnnotatorLib.server_info import ServerInfo  # noqa: E402

pytestmark = [pytest.mark.server, pytest.mark.slow]


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    total = a.sum() + b.sum()
    return 1.0 if total == 0 else 2 * np.logical_and(a, b).sum() / total


def test_the_agreement_with_a_submitted_label_is_served_and_shown(tmp_path):
    studies = make_test_studies(tmp_path / "studies", n_phantoms=2)
    with running_server(studies, tmp_path / "model") as server:
        objects = server.get("/datastore/?output=all").json()["objects"]
        image_id = sorted(
            key for key, entry in objects.items() if key.startswith("demo-chest") and not entry["labels"]
        )[0]
        response, label_bytes, result = infer_all(server, image_id)
        assert response.status_code == 200, response.text
        (tmp_path / "prediction.nrrd").write_bytes(label_bytes)
        image = read_cxr(next(studies.glob(f"{image_id}.*")))
        shown = read_label(tmp_path / "prediction.nrrd", like=image) == 1
        final = np.zeros(image.shape, bool)
        final[20:60, 10:50] = True
        with open(write_label(final, like=image, path=tmp_path / "final.nrrd"), "rb") as stream:
            upload = server.put(f"/datastore/label?image={image_id}&tag=final", files={"label": stream})
        assert upload.status_code == 200, upload.text

        summary = server.get("/monitoring/").json()
        client_summary = PtxsegClient(server.url, token=server.token).monitoring()

    agreement = summary["last_period"]["agreement"]
    assert summary["last_period"]["images"] == 1 and agreement["images"] == 1
    assert agreement["mean_dice"] == pytest.approx(_dice(shown, final), abs=1e-6)
    assert summary["model"]["version"] == result["model_version"]
    assert client_summary == summary
    info = ServerInfo().with_monitoring(client_summary)
    assert info.monitoring == summary["text"] and "1 labelled" in info.summary()
    records = (tmp_path / "monitoring" / "records.jsonl").read_text()
    assert image_id not in records and str(studies) not in records  # ids are stored hashed, no server paths
