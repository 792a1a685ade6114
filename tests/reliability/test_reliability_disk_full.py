"""A full disk: saving a label, an image or a model that finds no room is a clear refusal (507 over HTTP), leaves the
previous file intact and no partial file behind, and the datastore goes on serving.

The disk is filled by a file size limit (``RLIMIT_FSIZE``, with ``SIGXFSZ`` ignored so that a write past it fails
with ``EFBIG`` as a full disk fails with ``ENOSPC``): no mount or root is needed. Before the fixes ITK's label writer
ignored the short write and replaced a good label with a truncated one.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from ptxseg.io.atomic import TEMPORARY_PREFIX, storage_full
from ptxseg.io.labels import write_label
from ptxseg.io.reader import read_cxr
from ptxseg.serving.store import ModelStore
from tests.support.app_datastore import last_json, run_in_app
from tests.support.io_fixtures import marker_array, write_pillow
from tests.support.server_harness import make_test_studies
from tests.support.storage import file_size_limit


def _leftovers(folder: Path) -> list[Path]:
    return [path for path in folder.rglob(f"{TEMPORARY_PREFIX}*")]


def test_a_label_that_does_not_fit_leaves_the_previous_one(tmp_path):
    image = read_cxr(write_pillow(tmp_path / "image.png", marker_array()))
    target = tmp_path / "label.nrrd"
    write_label(np.zeros(image.shape, np.uint8), like=image, path=target)
    before = target.read_bytes()
    noise = np.random.default_rng(0).integers(0, 2, image.shape).astype(np.uint8)  # compresses badly

    with file_size_limit(len(before) + 100), pytest.raises(OSError, match="was not written whole") as refused:
        write_label(noise, like=image, path=target)

    assert storage_full(refused.value)
    assert target.read_bytes() == before and not _leftovers(tmp_path)


def test_a_model_that_does_not_fit_leaves_the_served_model_and_its_record(tmp_path):
    store = ModelStore(tmp_path / "model")
    (tmp_path / "first.safetensors").write_bytes(b"first" * 100)
    store.install(tmp_path / "first.safetensors", trained=True, source="first")
    (tmp_path / "second.safetensors").write_bytes(b"second" * 100_000)
    served, record = store.served_path.read_bytes(), store.record_path.read_bytes()

    with file_size_limit(100_000), pytest.raises(OSError) as refused:
        store.install(tmp_path / "second.safetensors", trained=True, source="second")

    assert storage_full(refused.value)
    assert (store.served_path.read_bytes(), store.record_path.read_bytes()) == (served, record)
    assert store.read_record().source == "first" and not _leftovers(tmp_path)


# Saves a label and uploads an image under a file size limit, then again without it; prints what happened and what
# was on disk after each phase.
SAVE_WHEN_FULL = """
import hashlib, json, resource, shutil, signal, sys
from pathlib import Path
import numpy as np
from fastapi import HTTPException
from lib.datastore import PtxsegDatastore
from ptxseg.io.labels import write_label
from ptxseg.io.reader import read_cxr
studies, image_id, uploads = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
store = PtxsegDatastore(str(studies), max_upload_bytes=2**20)
image = read_cxr(store.image_path(image_id))
noise = np.random.default_rng(0).integers(0, 2, image.shape).astype(np.uint8)
pristine = write_label(noise, like=image, path=f"{uploads}/pristine.nrrd")
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
phases = {"before": sorted(str(path.relative_to(studies)) for path in studies.rglob("*") if path.is_file())}
for phase, limit in (("full", 1000), ("room", hard)):
    # A refused upload is deleted (as the server deletes its temporary copy): send fresh copies each time.
    resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
    shutil.copyfile(pristine, f"{uploads}/label.nrrd")
    shutil.copyfile(f"{uploads}/study.png", f"{uploads}/new-study.png")
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    outcome = {}
    for name, save in (("label", lambda: store.save_label(image_id, f"{uploads}/label.nrrd", "final", {})),
                       ("image", lambda: store.add_image("new-study", f"{uploads}/new-study.png", {}))):
        try:
            save()
            outcome[name] = "saved"
        except HTTPException as error:
            outcome[name] = [error.status_code, error.detail]
    stored = studies / "labels" / "final" / f"{image_id}.nrrd"
    outcome["label sha256"] = hashlib.sha256(stored.read_bytes()).hexdigest()
    outcome["files"] = sorted(str(path.relative_to(studies)) for path in studies.rglob("*") if path.is_file())
    outcome["images"] = sorted(store.list_images())
    phases[phase] = outcome
print(json.dumps(phases))
"""


def test_the_datastore_answers_507_keeps_the_previous_label_and_serves_on(tmp_path):
    studies = make_test_studies(tmp_path / "studies", n_phantoms=4)
    labelled = sorted((studies / "labels" / "final").glob("*.nrrd"))[0]
    image_id = labelled.name[: -len(".nrrd")]
    before = hashlib.sha256(labelled.read_bytes()).hexdigest()
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    write_pillow(uploads / "study.png", (np.random.default_rng(1).random((128, 128)) * 255).astype(np.uint8))

    phases = last_json(run_in_app(SAVE_WHEN_FULL, studies, image_id, uploads))

    full, room = phases["full"], phases["room"]
    for name in ("label", "image"):
        status, detail = full[name]
        assert status == 507 and "the server has no room to save" in detail and "free disk space" in detail
    assert full["label sha256"] == before
    assert full["files"] == phases["before"] and "new-study" not in full["images"]
    assert room["label"] == room["image"] == "saved"
    assert room["label sha256"] != before and "new-study" in room["images"]
    assert not _leftovers(studies)
