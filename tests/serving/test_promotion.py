"""Champion/challenger: the promotion rule, the run's options, the process count, the fine-tuning config, and a
failed run that leaves the served model alone and says why in the stats file."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest

from ptxseg.serving.promotion import (
    FineTuningFailed,
    decide_promotion,
    default_options,
    fine_tune_config,
    finetune_and_promote,
    parse_options,
    process_count,
)
from ptxseg.serving.settings import FINE_TUNING, ServingSettings
from ptxseg.serving.training_stats import INTERRUPTED, STATS_NAME, TrainingStats


@pytest.mark.parametrize(
    ("champion_trained", "champion", "challenger", "has_challenger", "promoted", "reason"),
    [
        (True, 0.8, 0.9, False, False, "training produced no checkpoint"),
        (False, 0.99, 0.1, True, True, "the served model was untrained"),
        (True, 0.8, 0.8, True, True, "validation Dice not worse than the served model's"),
        (True, 0.8, 0.85, True, True, "validation Dice not worse than the served model's"),
        (True, 0.8, 0.79, True, False, "validation Dice worse than the served model's: kept the served model"),
    ],
)
def test_the_promotion_rule(champion_trained, champion, challenger, has_challenger, promoted, reason):
    assert decide_promotion(champion_trained, champion, challenger, has_challenger) == (promoted, reason)


def test_request_options_override_the_defaults_and_framework_keys_are_ignored():
    defaults = default_options(ServingSettings(epochs=5), "cpu")
    request = {"max_epochs": "2", "seed": 3, "multi_gpu": "true", "model": "pneumothorax", "client_id": "slicer"}

    options = parse_options(request, defaults)

    assert options == {**defaults, "epochs": 2, "seed": 3, "multi_gpu": True}
    assert defaults["epochs"] == 5  # the defaults are not changed


@pytest.mark.parametrize(
    ("request_options", "words"),
    [
        ({"learning_rat": 0.1}, "unknown training option 'learning_rat'; valid: ["),
        ({"epochs": "many"}, "training option epochs='many' is not a valid int"),
        ({"multi_gpu": "maybe"}, "training option multi_gpu='maybe' is not a valid parse_bool"),
        ({"batch_size": None}, "training option batch_size=None is not a valid int"),
    ],
)
def test_bad_request_options_are_refused_with_the_option_named(request_options, words):
    with pytest.raises(ValueError) as refused:
        parse_options(request_options, {})
    assert words in str(refused.value)


def test_the_process_count():
    assert process_count(3, multi_gpu=False, device="cpu") == 3
    assert process_count(None, multi_gpu=True, device="cpu") == 1  # multi_gpu is about GPUs
    assert process_count(None, multi_gpu=False, device="cuda") == 1
    with pytest.raises(ValueError, match="processes must be >= 1, got 0"):
        process_count(0, multi_gpu=False, device="cpu")


def test_the_fine_tuning_config_is_fine_tuning_with_the_servers_model_and_the_runs_options():
    settings = ServingSettings(image_size=128, encoder="efficientnet-b0", amp=False, threshold=0.4)

    config = fine_tune_config(settings, "cpu", {"epochs": 2, "batch_size": 4, "max_steps_per_epoch": None})

    assert (config.image_size, config.encoder, config.amp, config.threshold) == (128, "efficientnet-b0", False, 0.4)
    assert (config.device, config.epochs, config.batch_size) == ("cpu", 2, 4)
    assert config.monitor == "per_image_dice" and config.max_steps_per_epoch is None
    assert config.min_learning_rate == FINE_TUNING.min_learning_rate


def test_a_failed_run_says_why_in_the_stats_and_raises(tmp_path):
    stats = TrainingStats(tmp_path / STATS_NAME)
    served = SimpleNamespace(device=lambda: "cpu")  # the run fails on its options, before it touches the model

    with pytest.raises(FineTuningFailed, match="ValueError: unknown training option 'learning_rat'"):
        finetune_and_promote(served, ServingSettings(), {"learning_rat": 0.1}, datastore=None, stats=stats)

    written = stats.read()
    assert written["status"] == "failed" and written["reason"].startswith("ValueError: unknown training option")
    assert written["pid"] == os.getpid()
    assert [path.name for path in tmp_path.iterdir()] == [STATS_NAME]  # no temporary file left behind


def test_a_run_whose_process_is_gone_reads_as_interrupted(tmp_path):
    stats = TrainingStats(tmp_path / STATS_NAME)
    assert stats.read() == {}
    stats.path.write_text('{"status": "running", "epoch": 2, "pid": 999999999}')

    assert stats.read() == {"status": "failed", "epoch": 2, "pid": 999999999, "reason": INTERRUPTED}

    stats.write({"status": "running", "epoch": 3})  # this process is alive
    assert stats.read()["status"] == "running"
