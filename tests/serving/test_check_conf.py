"""``python -m ptxseg.serving.check_conf APP_DIR CONF_JSON`` and ``ptxseg serve``'s use of it: a bad conf exits 2
with the reason in one line, before any server starts."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ptxseg.serving.app_location import default_app_dir
from ptxseg.serving.check_conf import BAD_CONF_STATUS, check_app_conf, main
from ptxseg.serving.short_lived import in_short_lived_process


def test_a_good_conf_passes():
    assert main([str(default_app_dir()), json.dumps({"epochs": "3", "amp": "false"})]) == 0


@pytest.mark.parametrize(
    ("conf", "words"),
    [
        ({"learnin_rate": "0.1"}, "unknown conf key(s) ['learnin_rate']; valid keys: ["),
        ({"epochs": "-3"}, "epochs must be >= 1, got -3"),
        ({"image_size": "big"}, "conf image_size='big'"),
    ],
)
def test_a_bad_conf_exits_2_with_the_reason_in_one_line(capsys, conf, words):
    assert main([str(default_app_dir()), json.dumps(conf)]) == BAD_CONF_STATUS
    error = capsys.readouterr().err
    assert words in error and error.count("\n") == 1


def test_an_app_without_ptxseg_settings_checks_its_own_conf(tmp_path):
    (tmp_path / "main.py").write_text("")
    assert main([str(tmp_path), json.dumps({"models": "segmentation"})]) == 0


def test_it_runs_as_a_module_and_ptxseg_serve_reports_its_reason():
    command = [sys.executable, "-m", "ptxseg.serving.check_conf", str(default_app_dir()), '{"threshold": "2"}']
    checked = subprocess.run(command, capture_output=True, text=True)
    assert checked.returncode == BAD_CONF_STATUS and checked.stdout == ""
    assert checked.stderr.strip().startswith("threshold must lie strictly between 0 and 1, got 2.0")

    with pytest.raises(ValueError, match=r"^epochs must be >= 1, got -1$"):
        in_short_lived_process(check_app_conf, default_app_dir(), {"epochs": "-1"})
    in_short_lived_process(check_app_conf, default_app_dir(), {"epochs": "2"})
