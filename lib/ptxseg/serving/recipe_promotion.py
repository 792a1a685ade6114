"""Champion/challenger for a recipe: every member is fine-tuned, and the recipe as a whole is promoted or kept.

The rule, the options, the split and the stats are ``ptxseg.serving.promotion``'s; the champion and the challenger
are both judged by ``validate_predictor`` on the same validation images with the served post-processing, so an
ensemble is never promoted for one good member.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import torch

from ptxseg.datasets.splits import split_by_id
from ptxseg.inference.loading import load_predictor
from ptxseg.serving.promotion import (
    FineTuningFailed,
    LabelledDatastore,
    decide_promotion,
    default_options,
    fine_tune_config,
    labelled_items,
    parse_options,
    record_outcome,
)
from ptxseg.serving.recipe_model import RecipeServedModel
from ptxseg.serving.training_stats import TrainingStats
from ptxseg.training.recipes import train_recipe
from ptxseg.training.validate import validate_predictor

__all__ = ["finetune_recipe_and_promote"]


def finetune_recipe_and_promote(
    served: RecipeServedModel, request: Mapping, datastore: LabelledDatastore, stats: TrainingStats
) -> dict:
    """Fine-tune every member from the served bundle, judge both bundles, promote the challenger if not worse.

    Raises:
        FineTuningFailed: anything went wrong; the served model is unchanged and ``stats`` says why.

    Example:
        >>> finetune_recipe_and_promote(served, {"max_epochs": 1}, datastore, stats)["promoted"]  # doctest: +SKIP
        True
    """
    started = time.time()
    try:
        return _run(served, request, datastore, stats, started)
    except Exception as error:
        reason = f"{type(error).__name__}: {error}"
        stats.write({"status": "failed", "reason": reason, "total_time": round(time.time() - started, 1)})
        raise FineTuningFailed(reason) from error


def _judge(path: Path, served: RecipeServedModel, items, device: str) -> float | None:
    predictor = load_predictor(path, device, "torch", options=served.recipe.options)
    return validate_predictor(predictor, items)["per_image_dice"]


def _run(served: RecipeServedModel, request, datastore, stats: TrainingStats, started: float) -> dict:
    settings, device = served.settings, served.device()
    options = parse_options(request, default_options(settings, device))
    train_items, val_items = split_by_id(labelled_items(datastore), float(options.pop("val_fraction")))
    for single_process_only in ("processes", "multi_gpu"):
        if options.pop(single_process_only, None):
            raise ValueError(f"a {served.recipe.kind} model fine-tunes in one process; drop {single_process_only}")
    if device == "cpu":
        torch.set_num_threads(settings.training_threads())
    champion = served.record
    champion_dice = _judge(served.store.served_path, served, val_items, device)
    config = fine_tune_config(settings, device, options)
    stats.write({"status": "running", "epoch": 0, "total_epochs": config.epochs, "start_ts": started})
    with tempfile.TemporaryDirectory(dir=served.store.directory, prefix=".run-") as run_dir:
        result = train_recipe(
            served.recipe.kind, train_items, val_items, config, Path(run_dir), init=served.store.served_path
        )
        outcome = {
            "kind": served.recipe.kind,
            "champion_version": champion.version,
            "champion_dice": champion_dice,
            "challenger_dice": _judge(result.checkpoint, served, val_items, device),
            "members": [
                {"encoder": m["encoder"], "per_image_dice": m.get("per_image_dice")} for m in result.member_metrics
            ],
            "training_images": len(train_items),
            "validation_images": len(val_items),
        }
        outcome["promoted"], outcome["reason"] = decide_promotion(
            champion.trained, champion_dice, outcome["challenger_dice"], True
        )
        record = record_outcome(served, result.checkpoint, outcome, len(train_items))
    outcome["model_version"] = record.version
    stats.write(
        {
            "status": "done",
            "best_metric": outcome["challenger_dice"],
            "ptxseg_result": outcome,
            "total_time": round(time.time() - started, 1),
        }
    )
    return outcome
