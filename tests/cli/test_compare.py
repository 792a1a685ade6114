"""``ptxseg compare`` on phantoms with small recipes trained by ``ptxseg train --kind``: one table, JSON and plot
for every model side by side, and the ensemble of trained members is not worse than its weakest member."""

from __future__ import annotations

import json

import pytest

from ptxseg.cli.compare import model_names
from ptxseg.cli.main import main
from ptxseg.evaluation.compare import COLUMNS
from tests.support.recipe_training import train_small_recipes

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def compared(tmp_path_factory, trained_phantom_model):
    folder = tmp_path_factory.mktemp("recipes")
    recipes = train_small_recipes(trained_phantom_model, folder)
    out = folder / "compare"
    models = [argument for name, path in recipes.models.items() for argument in ("--model", f"{name}={path}")]
    assert main(["compare", "--data", recipes.held_out, *models, "--out", str(out), "--latency-images", "4"]) == 0
    return out, json.loads((out / "comparison.json").read_text())


def test_one_table_json_and_plot_hold_every_model_measured_side_by_side(compared):
    out, comparison = compared
    rows = {row["name"]: row for row in comparison["models"]}
    assert list(rows) == ["first", "second", "ensemble", "two_stage"] and comparison["n_images"] == 16
    table = (out / "comparison.md").read_text()
    assert all(heading in table for _, heading in COLUMNS) and all(f"| {name} |" in table for name in rows)
    assert (out / "comparison.png").stat().st_size > 1000
    for row in rows.values():
        assert len(row["per_image"]) == 16 and row["latency_ms"] > 0 and row["auc"] is not None
        assert 0 <= row["sensitivity"] <= 1 and 0 <= row["specificity"] <= 1
    assert rows["first"]["latency_ratio"] == 1.0
    assert rows["ensemble"]["backend"].startswith("ensemble(2 x ")
    assert rows["ensemble"]["postprocess"]["kind"] == "triplet"


def test_the_ensemble_of_trained_members_is_not_worse_than_its_weakest_member(compared):
    _, comparison = compared
    dice = {row["name"]: row["per_image_dice"] for row in comparison["models"]}
    assert dice["ensemble"] >= min(dice["first"], dice["second"]), dice
    assert dice["first"] > 0.6 and dice["second"] > 0.6, dice  # the members learnt something: the empty guess is 0.5


def test_models_are_named_by_flag_or_file_and_a_name_twice_is_refused():
    assert model_names(["a=x/one.safetensors", "x/two.safetensors"]) == {
        "a": "x/one.safetensors",
        "two": "x/two.safetensors",
    }
    with pytest.raises(ValueError, match="two models are named 'best'"):
        model_names(["x/best.safetensors", "y/best.safetensors"])
