"""The datastore index (``datastore_v2.json``) survives a crash mid-write and a torn copy at start.

MONAI Label rewrites the index in place: a crash mid-write left half a file, and a start over half a file stopped
with a pydantic error. Each case runs the app's ``PtxsegDatastore`` in a subprocess (the app's ``lib`` package must
not be imported into the test process), a few seconds each.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from server_harness import make_test_studies

APP_DIR = Path(__file__).resolve().parents[2] / "monailabel_app"
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


def _open(studies: Path, *args) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(APP_DIR), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-c", OPEN_DATASTORE, str(studies), *map(str, args)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )


def _listing(result: subprocess.CompletedProcess) -> dict:
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def studies(tmp_path_factory) -> tuple[Path, dict]:
    """A studies folder with labels, its clean index and what the datastore lists from it."""
    folder = make_test_studies(tmp_path_factory.mktemp("index") / "studies", n_phantoms=6)
    listing = _listing(_open(folder))
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

    result = _open(folder)

    assert _listing(result) == clean
    assert "does not parse" in result.stderr and "rebuilt from the studies and labels" in result.stderr
    (kept,) = folder.glob(f"{INDEX}.torn-*")
    assert kept.read_bytes() == torn_bytes
    assert json.loads(index.read_text())["objects"].keys() == json.loads(good)["objects"].keys()


def test_a_crash_mid_write_leaves_the_previous_index(studies):
    folder, clean = studies
    index = folder / INDEX
    before = index.read_bytes()

    crashed = _open(folder, len(before) + 4096)  # the new index (100 kB longer) cannot be written whole

    assert crashed.returncode != 0
    assert index.read_bytes() == before
    assert _listing(_open(folder)) == clean
