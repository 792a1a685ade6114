"""``ptxseg federate``: writes the FLARE job; bad job configs are one clear line and exit status 2."""

import pytest

from ptxseg.cli.main import main
from tests.support.small_model import write_small_checkpoint


def test_federate_writes_the_job(tmp_path, capsys):
    pytest.importorskip("nvflare", reason="NVIDIA FLARE is the optional federated extra: pip install -e .[federated]")
    initial = write_small_checkpoint(tmp_path / "initial.safetensors")
    status = main(["federate", "--init", str(initial), "--out", str(tmp_path / "out"), "--image-size", "64"])
    assert status == 0
    assert (tmp_path / "out" / "jobs" / "ptxseg-fedavg" / "meta.json").is_file()
    assert "wrote the FLARE job" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--sites", "2", "--min-sites", "3"], "min_sites (3) cannot exceed sites (2)"),
        (["--privacy", "svt", "--send", "weights"], "use --send diff"),
        (["--local-epochs", "0"], "local_epochs must be >= 1"),
        (["--simulate"], "--simulate needs --sites-file"),
    ],
)
def test_a_bad_job_config_is_one_clear_line(tmp_path, capsys, arguments, message):
    status = main(["federate", "--init", str(tmp_path / "m.safetensors"), "--out", str(tmp_path), *arguments])
    assert status == 2
    error = capsys.readouterr().err
    assert message in error and "Traceback" not in error
