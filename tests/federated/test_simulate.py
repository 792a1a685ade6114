"""The simulator is not started when a site has no entry in the sites file: the error names the site to add."""

import pytest

pytest.importorskip("nvflare", reason="NVIDIA FLARE is the optional federated extra: pip install -e .[federated]")

from ptxseg.federated.simulate import simulate  # noqa: E402
from tests.federated.hospitals import write_sites_file  # noqa: E402


def test_a_site_missing_from_the_sites_file_stops_the_run_before_it_starts(tmp_path):
    sites_file = write_sites_file(tmp_path / "sites", ["site-1"], n=2)
    with pytest.raises(ValueError, match="no entry for site 'site-2'"):
        simulate(tmp_path / "job", tmp_path / "workspace", 2, sites_file)
    assert not (tmp_path / "workspace").exists()


def test_a_job_that_does_not_run_is_reported_with_its_log(tmp_path):
    sites_file = write_sites_file(tmp_path / "sites", ["site-1"], n=2)
    (tmp_path / "job").mkdir()
    with pytest.raises(RuntimeError, match="the FLARE simulator failed .*simulator.log"):
        simulate(tmp_path / "job", tmp_path / "workspace", 1, sites_file, timeout_s=120)
