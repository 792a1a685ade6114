"""Odd and broken studies, in the studies folder and uploaded: odd ones work, broken ones are refused with a reason."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from ptxseg.serving.local_server import infer_all
from tests.support.hostile_files import BAD_STUDIES, GOOD_ODD_STUDIES, write_bad_study, write_good_odd_study
from tests.support.server_harness import label_grid
from tests.support.server_tools import UNSAFE_NAME, files_under, read_mask, server_tree

pytestmark = pytest.mark.server


def _study_file(server, image_id: str) -> Path:
    return next(server.studies.glob(f"{image_id}.*"))


def _check_label_on_grid(server, image_id: str, image_file: Path, tmp_path: Path) -> dict:
    response, label, result = infer_all(server, image_id)
    assert response.status_code == 200, response.text
    label_path = tmp_path / f"{image_id}.nrrd"
    label_path.write_bytes(label)
    assert label_grid(label_path) == label_grid(image_file)
    mask = read_mask(label_path)
    assert set(np.unique(mask)) <= {0, 1} and result["area_px"] == int(mask.sum())
    return result


@pytest.mark.parametrize("image_id", GOOD_ODD_STUDIES)
def test_an_odd_study_is_inferred_with_a_label_on_its_own_grid(attack_server, image_id, tmp_path):
    result = _check_label_on_grid(attack_server, image_id, _study_file(attack_server, image_id), tmp_path)
    if image_id in ("odd-dicom-zero-spacing", "odd-dicom-no-spacing"):
        # Unknown spacing is assumed 1 mm, and the result says so.
        assert any("assumed 1.0 mm" in warning for warning in result["warnings"]), result["warnings"]
        assert result["area_cm2"] == pytest.approx(result["area_px"] / 100, abs=1e-3)


@pytest.mark.parametrize("image_id", BAD_STUDIES)
def test_a_broken_study_is_skipped_at_start_and_refused_with_its_reason(attack_server, image_id):
    _, words = BAD_STUDIES[image_id]
    warning = next((line for line in attack_server.log().splitlines() if f"unreadable study {image_id}:" in line), "")
    assert words in warning, f"no start-up warning naming {image_id!r} and {words!r}"
    response = attack_server.post("/infer/pneumothorax", params={"image": image_id, "output": "json"})
    assert response.status_code == 422 and words in response.json()["detail"], response.text
    assert str(attack_server.studies) not in response.text  # the reason names the file, not the server's folders


def test_broken_studies_are_never_offered_for_labelling(attack_server):
    offered = {
        attack_server.post(f"/activelearning/{name}", json={}).json()["id"] for name in ["first"] * 2 + ["random"] * 20
    }
    assert offered and not offered & set(BAD_STUDIES)


def test_a_study_whose_file_name_is_no_safe_id_is_flagged_not_offered(attack_server):
    """Every endpoint refuses such an id, so offering it for labelling would only stall an annotator."""
    assert f"skipping unreadable study {UNSAFE_NAME}: its file name is no safe image id" in attack_server.log()
    offered = {attack_server.post("/activelearning/random", json={}).json()["id"] for _ in range(30)}
    assert UNSAFE_NAME not in offered


def test_the_server_keeps_serving_after_every_broken_study(attack_server):
    for image_id in BAD_STUDIES:
        attack_server.post("/infer/pneumothorax", params={"image": image_id, "output": "json"})
    assert attack_server.post("/infer/pneumothorax", params={"image": "demo-chest-002", "output": "json"}).ok
    assert "Traceback" not in attack_server.log()


@pytest.mark.parametrize("image_id", ["odd-dicom16-mono1", "odd-png-rgba", "odd-dicom-zero-spacing", "odd-png16"])
def test_an_uploaded_odd_study_is_accepted_and_inferred(attack_server, image_id, tmp_path):
    source = write_good_odd_study(tmp_path, image_id)
    new_id = f"uploaded-{image_id}"
    with open(source, "rb") as stream:
        response = attack_server.put(
            "/datastore/image", params={"image": new_id}, files={"file": (source.name, stream)}
        )
    assert response.status_code == 200 and response.json()["image"] == new_id, response.text
    stored = _study_file(attack_server, new_id)
    assert stored.read_bytes() == source.read_bytes()
    _check_label_on_grid(attack_server, new_id, stored, tmp_path)


def _spooled(server) -> set:
    return files_under(server.temp_dir)


@pytest.mark.parametrize("image_id", BAD_STUDIES)
def test_an_uploaded_broken_study_is_refused_and_nothing_is_kept(attack_server, image_id, tmp_path):
    source = write_bad_study(tmp_path, image_id, tmp_path)
    studies_before, spool_before = files_under(attack_server.studies), _spooled(attack_server)
    with open(source, "rb") as stream:
        response = attack_server.put(
            "/datastore/image", params={"image": f"uploaded-{image_id}"}, files={"file": (source.name, stream)}
        )
    assert response.status_code == 422 and BAD_STUDIES[image_id][1] in response.json()["detail"], response.text
    assert files_under(attack_server.studies) == studies_before
    assert _spooled(attack_server) == spool_before, "the refused upload was left in the server's temp folder"


@pytest.mark.parametrize("name", ["upload.exe", "upload", "upload.png.sh"])
def test_an_upload_of_an_unknown_type_is_refused(attack_server, name, tmp_path):
    source = write_good_odd_study(tmp_path, "odd-png-rgb")
    response = attack_server.put(
        "/datastore/image", params={"image": "uploaded-unknown-type"}, files={"file": (name, source.read_bytes())}
    )
    assert response.status_code == 415 and "unsupported image type" in response.json()["detail"], response.text


def test_an_upload_never_replaces_an_existing_study(attack_server, tmp_path):
    original = _study_file(attack_server, "demo-chest-004").read_bytes()
    source = write_good_odd_study(tmp_path, "odd-png-rgb")
    response = attack_server.put(
        "/datastore/image", params={"image": "demo-chest-004"}, files={"file": (source.name, source.read_bytes())}
    )
    assert response.status_code == 409, response.text
    assert _study_file(attack_server, "demo-chest-004").read_bytes() == original


def _peak_rss_bytes(server) -> int:
    """The MONAI Label server's high-water mark of resident memory (VmHWM), which a decoded bomb would raise."""
    process = next(p for p in server_tree(server) if "monailabel.main" in " ".join(p.cmdline()))
    status = Path(f"/proc/{process.pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1]) * 1024


@pytest.mark.parametrize("image_id", ["bad-png-bomb", "bad-dicom-bomb"])
def test_a_decompression_bomb_is_refused_before_it_is_decoded(attack_server, image_id, tmp_path):
    source = write_bad_study(tmp_path, image_id, tmp_path)
    peak_before = _peak_rss_bytes(attack_server)
    started = time.monotonic()
    with open(source, "rb") as stream:
        response = attack_server.put(
            "/datastore/image", params={"image": f"bomb-{image_id}"}, files={"file": (source.name, stream)}
        )
    elapsed = time.monotonic() - started
    assert response.status_code == 422 and BAD_STUDIES[image_id][1] in response.json()["detail"], response.text
    # Decoding would take 0.9 GB (1-bit PNG as bytes) or 1.8 GB (16-bit DICOM) and seconds.
    assert _peak_rss_bytes(attack_server) - peak_before < 300 * 2**20 and elapsed < 10
