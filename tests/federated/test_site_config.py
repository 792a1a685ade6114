"""A site's folders come from its own sites file; a missing or malformed one is a clear error."""

import json

import pytest

from ptxseg.federated.site_config import SITES_VARIABLE, read_site_config


def test_a_site_reads_its_own_entry(tmp_path):
    path = tmp_path / "sites.json"
    path.write_text(json.dumps({"site-1": {"studies": "/s", "model_dir": "/m", "conf": {"threshold": 0.4}}}))
    site = read_site_config("site-1", {SITES_VARIABLE: str(path)})
    assert (str(site.studies), str(site.model_dir)) == ("/s", "/m")
    assert site.settings().threshold == 0.4


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot be read as JSON"),
        ("{not json", "cannot be read as JSON"),
        (json.dumps({"site-2": {}}), "no entry for site 'site-1'"),
        (json.dumps({"site-1": {"studies": "/s"}}), "needs exactly studies, model_dir"),
        (json.dumps({"site-1": {"studies": "/s", "model_dir": "/m", "script": "x"}}), "needs exactly studies"),
        (json.dumps({"site-1": {"studies": "/s", "model_dir": "/m", "conf": ["a"]}}), "must be an object"),
    ],
)
def test_a_bad_sites_file_is_refused_clearly(tmp_path, content, message):
    path = tmp_path / "sites.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ValueError, match=message):
        read_site_config("site-1", {SITES_VARIABLE: str(path)})


def test_without_the_variable_the_site_is_told_what_to_set():
    with pytest.raises(ValueError, match=f"{SITES_VARIABLE} is not set"):
        read_site_config("site-1", {})


def test_an_unknown_conf_key_of_a_site_is_refused(tmp_path):
    path = tmp_path / "sites.json"
    path.write_text(json.dumps({"site-1": {"studies": "/s", "model_dir": "/m", "conf": {"treshold": "0.4"}}}))
    with pytest.raises(ValueError, match="unknown conf key"):
        read_site_config("site-1", {SITES_VARIABLE: str(path)}).settings()
