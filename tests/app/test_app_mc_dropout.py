"""MC-dropout uncertainty in the app: a new model built with dropout, scores made by dropout draws, and cached
scores recomputed when a restart switches the uncertainty method."""

from __future__ import annotations

import pytest

from tests.support.server_harness import make_test_studies, running_server

pytestmark = [pytest.mark.server, pytest.mark.slow]

MC_CONF = {"mc_samples": "4", "dropout": "0.3"}


def _unlabelled_scores(server) -> dict[str, dict]:
    objects = server.get("/datastore/?output=all").json()["objects"]
    return {image: entry["image"]["info"] for image, entry in objects.items() if not entry.get("labels")}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """Two runs on one studies folder and model: MC dropout (picks and scores), then flip-TTA after a restart."""
    root = tmp_path_factory.mktemp("mc-dropout")
    studies = make_test_studies(root / "studies", n_phantoms=6)
    record = {}
    with running_server(studies, root / "model", MC_CONF) as server:
        record["mc_info"] = server.get("/info/").json()
        record["mc_pick"] = server.post("/activelearning/uncertainty", json={}).json()
        record["mc_scores"] = _unlabelled_scores(server)
    with running_server(studies, root / "model") as server:
        record["flip_info"] = server.get("/info/").json()
        assert server.post("/activelearning/uncertainty", json={}).status_code == 200
        record["flip_scores"] = _unlabelled_scores(server)
    return record


def test_info_names_the_uncertainty_method_in_use(runs):
    assert runs["mc_info"]["ptxseg"]["uncertainty"] == "MC dropout"
    assert "MC dropout" in runs["mc_info"]["strategies"]["uncertainty"]["description"]
    assert runs["flip_info"]["ptxseg"]["uncertainty"] == "flip-TTA"


def test_mc_dropout_scores_every_unlabelled_study_and_picks_the_most_uncertain(runs):
    scores = {image: info for image, info in runs["mc_scores"].items() if "ptx_uncertainty" in info}
    assert len(scores) >= 4, runs["mc_scores"]
    assert all(info["ptx_uncertainty_method"] == "MC dropout" for info in scores.values())
    uncertainty = {image: info["ptx_uncertainty"] for image, info in scores.items()}
    assert all(0 < value <= 1 for value in uncertainty.values()), uncertainty
    assert runs["mc_pick"]["id"] == max(scores, key=lambda image: (scores[image]["ptx_uncertainty"], image))


def test_a_restart_with_another_method_recomputes_the_cached_scores(runs):
    scores = {image: info for image, info in runs["flip_scores"].items() if "ptx_uncertainty" in info}
    assert set(scores) == {image for image, info in runs["mc_scores"].items() if "ptx_uncertainty" in info}
    assert all(info["ptx_uncertainty_method"] == "flip-TTA" for info in scores.values())
    before = runs["mc_scores"]
    assert any(scores[image]["ptx_uncertainty"] != before[image]["ptx_uncertainty"] for image in scores), scores
    assert all(scores[image]["ptx_probability"] == before[image]["ptx_probability"] for image in scores)
