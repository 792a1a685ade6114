"""The served app's settings: every conf key parsed once into its type, unknown keys and bad values refused in one
line that names the key, the fine-tuning defaults taken from TrainConfig."""

from __future__ import annotations

from dataclasses import fields

import pytest

from ptxseg.evaluation.triage import TriageCriteria
from ptxseg.serving.settings import APP_CONF_VARIABLE, FINE_TUNING, ServingSettings
from ptxseg.training.config import TrainConfig


def _every_key(tmp_path) -> dict[str, str]:
    weights = tmp_path / "encoder.pth"
    model = tmp_path / "model.safetensors"
    weights.write_bytes(b"w")
    model.write_bytes(b"m")
    return {
        "encoder_weights": str(weights),
        "model": str(model),
        "model_dir": str(tmp_path / "served"),
        "encoder": "efficientnet-b0",
        "image_size": "128",
        "threshold": "0.4",
        "min_area": "10",
        "triage_threshold": "0.3",
        "device": "cpu",
        "backend": "onnxruntime",
        "batch_size": "2",
        "epochs": "3",
        "learning_rate": "0.001",
        "patience": "2",
        "val_fraction": "0.25",
        "amp": "off",
        "scoring_batch_size": "4",
        "max_upload_mb": "8",
        "mc_samples": "4",
        "dropout": "0.2",
        "train_threads": "1",
        "measure_runtimes": "false",
        "expose_paths": "true",
        "allow_origins": "http://viewer.example:3000, https://pacs.example",
        "allow_hosts": "cxr.hospital.example",
        "triage_min_positives": "5",
        "triage_min_negatives": "6",
        "triage_min_sensitivity": "0.9",
        "triage_min_specificity": "0.7",
    }


def test_every_key_is_parsed_into_its_type(tmp_path):
    conf = _every_key(tmp_path)
    assert set(conf) == {item.name for item in fields(ServingSettings)} - {"given_keys"}  # covers every key

    settings = ServingSettings.from_conf(conf)

    assert settings.model_dir == str(tmp_path / "served") and settings.encoder == "efficientnet-b0"
    assert (settings.image_size, settings.min_area, settings.batch_size, settings.epochs) == (128, 10, 2, 3)
    assert (settings.threshold, settings.triage_threshold, settings.val_fraction) == (0.4, 0.3, 0.25)
    assert settings.learning_rate == pytest.approx(1e-3) and settings.dropout == pytest.approx(0.2)
    assert settings.amp is False and settings.backend == "onnxruntime" and settings.device == "cpu"
    assert (settings.scoring_batch_size, settings.mc_samples, settings.train_threads) == (4, 4, 1)
    assert settings.max_upload_bytes == 8 * 2**20
    assert settings.triage_criteria == TriageCriteria(5, 6, 0.9, 0.7) and settings.measure_runtimes is False
    assert settings.expose_paths is True
    assert settings.allow_origins == "http://viewer.example:3000, https://pacs.example"
    assert settings.allow_hosts == "cxr.hospital.example"


def test_a_wildcard_origin_is_refused_at_start():
    with pytest.raises(ValueError, match="every web page would be allowed"):
        ServingSettings.from_conf({"allow_origins": "*"})


def test_an_empty_path_means_none_and_the_framework_keys_are_left_to_monai_label():
    settings = ServingSettings.from_conf({"model": "", "model_dir": "", "server_mode": "true"})
    assert settings.model is None and settings.model_dir is None


def test_an_unknown_key_is_refused_with_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown conf key\(s\) \['learnin_rate'\]; valid keys: \[") as refused:
        ServingSettings.from_conf({"learnin_rate": "0.1"})
    assert "'learning_rate'" in str(refused.value)


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("image_size", "big", "conf image_size='big'"),
        ("amp", "maybe", "conf amp='maybe': expected true or false"),
        ("epochs", "-3", "epochs must be >= 1, got -3"),
        ("patience", "0", "patience must be >= 1, got 0"),
        ("min_area", "-1", "min_area must be >= 0, got -1"),
        ("train_threads", "-2", "train_threads must be >= 0, got -2"),
        ("threshold", "2.0", "threshold must lie strictly between 0 and 1, got 2.0"),
        ("triage_threshold", "1", "triage_threshold must lie strictly between 0 and 1, got 1.0"),
        ("triage_threshold", "0", "triage_threshold must lie strictly between 0 and 1, got 0.0"),
        ("val_fraction", "1", "val_fraction must lie strictly between 0 and 1, got 1.0"),
        ("mc_samples", "1", "mc_samples must be 0 (flip-TTA uncertainty) or >= 2 (MC dropout)"),
        ("dropout", "1", "dropout must be in [0, 1), got 1.0"),
        ("learning_rate", "0", "learning_rate must be > 0, got 0.0"),
        ("encoder", "resnet50", "encoder must be one of efficientnet-b0"),
        ("backend", "tensorrt", "backend must be one of"),
        ("device", "tpu", "device must be 'auto', 'cpu' or 'cuda[:N]'"),
        ("model", "/no/such.safetensors", "conf model: file /no/such.safetensors does not exist"),
    ],
)
def test_a_bad_value_is_refused_in_one_line_naming_the_key(key, value, words):
    with pytest.raises(ValueError) as refused:
        ServingSettings.from_conf({key: value})
    assert words in str(refused.value) and "\n" not in str(refused.value)


def test_the_server_side_reads_the_same_conf_from_the_environment():
    settings = ServingSettings.from_environment({APP_CONF_VARIABLE: '{"max_upload_mb": "3", "epochs": "7"}'})
    assert settings == ServingSettings(max_upload_mb=3, epochs=7)
    assert ServingSettings.from_environment({}) == ServingSettings()
    with pytest.raises(ValueError, match="unknown conf key"):
        ServingSettings.from_environment({APP_CONF_VARIABLE: '{"max_upload": "3"}'})


def test_fine_tuning_defaults_are_train_configs_with_a_few_fields_replaced():
    paper = TrainConfig()
    settings = ServingSettings()
    assert (settings.learning_rate, settings.amp, settings.image_size) == (
        paper.learning_rate,
        paper.amp,
        paper.image_size,
    )
    assert (FINE_TUNING.epochs, FINE_TUNING.patience, FINE_TUNING.monitor) == (50, 10, "per_image_dice")
    assert (settings.epochs, settings.patience) == (FINE_TUNING.epochs, FINE_TUNING.patience)
    assert FINE_TUNING.min_learning_rate == paper.min_learning_rate and FINE_TUNING.augment == paper.augment


def test_training_batch_and_threads_follow_the_device_and_the_cores():
    assert ServingSettings().training_batch_size("cuda:0") == 32
    assert ServingSettings().training_batch_size("cpu") == 4
    assert ServingSettings(batch_size=6).training_batch_size("cpu") == 6
    assert ServingSettings(train_threads=2).training_threads() == 2
    assert ServingSettings().training_threads() >= 1


def test_the_pacs_keys_are_left_to_the_pacs_settings():
    settings = ServingSettings.from_conf({"prescreen": "true", "dicomweb_modalities": "CR"})
    assert settings == ServingSettings()
