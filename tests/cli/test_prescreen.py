"""``ptxseg prescreen --once`` (what a scheduler runs): screens the new PACS instances, prints the worklist, and a
second run screens nothing again; the model's missing triage qualification is stated; the server's PACS keys that
cannot take effect in the command are named."""

import json

import pytest

from ptxseg.cli.main import main
from tests.support.orthanc import Orthanc, require_orthanc
from tests.support.pacs_images import write_cr_phantom
from tests.support.small_model import write_small_checkpoint


@pytest.fixture
def pacs_environment(monkeypatch):
    """The PACS password, and the variables ``prescreen`` exports restored after the test."""
    for name in ("PTXSEG_DICOMWEB_URL", "PTXSEG_DICOMWEB_USER"):
        monkeypatch.setenv(name, "")
    monkeypatch.setenv("PTXSEG_DICOMWEB_PASSWORD", "pacs-test-password")


@pytest.fixture
def one_instance_pacs(tmp_path, pacs_environment):
    """A real Orthanc holding one CR phantom, and ``ptxseg prescreen --once`` arguments for it."""
    require_orthanc()
    orthanc = Orthanc(tmp_path / "orthanc").start()
    try:
        orthanc.upload(write_cr_phantom(tmp_path / "cr.dcm"))
        checkpoint = write_small_checkpoint(tmp_path / "b0.safetensors")
        arguments = ["prescreen", "--dicomweb", orthanc.dicomweb, "--dicomweb-user", "ptxseg", "--model"]
        arguments += [str(checkpoint), "--state", str(tmp_path / "state"), "--once", "--backend", "torch"]
        yield orthanc, [*arguments, "--device", "cpu"]
    finally:
        orthanc.stop()


def test_prescreen_once_screens_each_instance_once(one_instance_pacs, capsys):
    orthanc, arguments = one_instance_pacs
    assert main(arguments) == 0
    out = capsys.readouterr().out
    assert "not qualified for triage" in out and "screened 1 new instances" in out
    worklist = json.loads(out[out.index("[") :])
    assert len(worklist) == 1 and worklist[0]["screened"] and worklist[0]["flag"] is False

    assert main(arguments) == 0
    assert "screened 0 new instances" in capsys.readouterr().out
    assert len(orthanc.instances("SEG")) == 1


def test_prescreen_once_says_which_pacs_keys_it_ignores_and_screens(one_instance_pacs, capsys):
    _, arguments = one_instance_pacs
    assert main([*arguments, "--conf", "prescreen", "false", "--conf", "prescreen_interval_s", "30"]) == 0
    captured = capsys.readouterr()
    assert "warning: conf prescreen is ignored: it switches the server's pre-screening" in captured.err
    assert "warning: conf prescreen_interval_s is ignored: --once screens one round and exits" in captured.err
    assert "screened 1 new instances" in captured.out
