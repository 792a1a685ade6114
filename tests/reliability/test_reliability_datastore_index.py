"""The datastore index (``datastore_v2.json``) survives a crash mid-write and a torn copy at start.

MONAI Label rewrites the index in place: a crash mid-write left half a file, and a start over half a file stopped
with a pydantic error. Each case runs the app's ``PtxsegDatastore`` in a subprocess (the app's ``lib`` package must
not be imported into the test process), a few seconds each.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.app_datastore import last_json, run_in_app
from tests.support.server_harness import make_test_studies

INDEX = "datastore_v2.json"

# Opens the studies folder, optionally rewrites the index once under a file-size limit (a crash mid-write: the
# kernel kills a process that writes past RLIMIT_FSIZE), and prints what it lists.
OPEN_DATASTORE = """
import json, resource, sys
from lib.datastore import PtxsegDatastore
store = PtxsegDatastore(sys.argv[1], max_upload_bytes=2**20)
if len(sys.argv) > 2:
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[2]), resource.RLIM_INFINITY))
    store.set_description("x" * 100_000)
print(json.dumps({"images": sorted(store.list_images()), "labelled": sorted(store.get_labeled_images())}))
"""


@pytest.fixture(scope="module")
def studies(tmp_path_factory) -> tuple[Path, dict]:
    """A studies folder with labels, its clean index and what the datastore lists from it."""
    folder = make_test_studies(tmp_path_factory.mktemp("index") / "studies", n_phantoms=6)
    listing = last_json(run_in_app(OPEN_DATASTORE, folder))
    assert listing["labelled"] and len(listing["images"]) > len(listing["labelled"])
    return folder, listing


@pytest.mark.parametrize(
    "tear",
    {
        "truncated": lambda text: text.encode()[: len(text) // 2],
        "garbage": lambda text: bytes(range(256)) * 8,
        "empty": lambda text: b"",
        "json, but not an index": lambda text: b'{"objects": [1, 2, 3]}',
    }.items(),
    ids=lambda item: item[0],
)
def test_a_torn_index_is_set_aside_and_rebuilt_from_the_files(studies, tear):
    folder, clean = studies
    index = folder / INDEX
    good = index.read_text()
    torn_bytes = tear[1](good)
    index.write_bytes(torn_bytes)
    for old in folder.glob(f"{INDEX}.torn-*"):
        old.unlink()

    result = run_in_app(OPEN_DATASTORE, folder)

    assert last_json(result) == clean
    assert "does not parse" in result.stderr and "rebuilt from the studies and labels" in result.stderr
    (kept,) = folder.glob(f"{INDEX}.torn-*")
    assert kept.read_bytes() == torn_bytes
    assert json.loads(index.read_text())["objects"].keys() == json.loads(good)["objects"].keys()


def test_a_crash_mid_write_leaves_the_previous_index(studies):
    folder, clean = studies
    index = folder / INDEX
    before = index.read_bytes()

    # The new index (100 kB longer) cannot be written whole.
    crashed = run_in_app(OPEN_DATASTORE, folder, len(before) + 4096)

    assert crashed.returncode != 0
    assert index.read_bytes() == before
    assert last_json(run_in_app(OPEN_DATASTORE, folder)) == clean
