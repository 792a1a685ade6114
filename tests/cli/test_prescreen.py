"""``ptxseg prescreen --once`` (what a scheduler runs): screens the new PACS instances, prints the worklist, and a
second run screens nothing again; the model's missing triage qualification is stated."""

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


def test_prescreen_once_screens_each_instance_once(tmp_path, capsys, pacs_environment):
    require_orthanc()
    orthanc = Orthanc(tmp_path / "orthanc").start()
    try:
        orthanc.upload(write_cr_phantom(tmp_path / "cr.dcm"))
        checkpoint = write_small_checkpoint(tmp_path / "b0.safetensors")
        arguments = ["prescreen", "--dicomweb", orthanc.dicomweb, "--dicomweb-user", "ptxseg", "--model"]
        arguments += [str(checkpoint), "--state", str(tmp_path / "state"), "--once", "--backend", "torch"]

        assert main([*arguments, "--device", "cpu"]) == 0
        out = capsys.readouterr().out
        assert "not qualified for triage" in out and "screened 1 new instances" in out
        worklist = json.loads(out[out.index("[") :])
        assert len(worklist) == 1 and worklist[0]["screened"] and worklist[0]["flag"] is False

        assert main([*arguments, "--device", "cpu"]) == 0
        assert "screened 0 new instances" in capsys.readouterr().out
        assert len(orthanc.instances("SEG")) == 1
    finally:
        orthanc.stop()
