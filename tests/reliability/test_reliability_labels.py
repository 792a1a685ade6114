"""Submitted labels that must be refused (geometry, values, dtype, format, size): a clear 4xx and nothing written.

Extends tests/app/test_app_server.py (wrong spacing, wrong shape, values 7, text file, hostile tag, unknown image).
"""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from ptxseg.io.labels import write_label
from ptxseg.io.reader import read_cxr
from ptxseg.phantom.demo import DEMO_UID_ROOT
from tests.support.server_tools import MAX_UPLOAD_MB, files_under, read_mask

pytestmark = pytest.mark.server

TARGET = f"{DEMO_UID_ROOT}.3"  # a phantom DICOM with a 2.73 mm grid, unlabelled


def _target(server):
    return read_cxr(server.studies / f"{TARGET}.dcm")


def _stored(server, image_id: str = TARGET) -> Path:
    return server.studies / "labels" / "final" / f"{image_id}.nrrd"


def _good_label(server, folder: Path) -> Path:
    image = _target(server)
    mask = np.zeros(image.shape, np.uint8)
    mask[20:60, 10:40] = 1
    return write_label(mask, like=image, path=folder / "good.nrrd")


def _altered(source: Path, target: Path, change) -> Path:
    image = sitk.ReadImage(str(source))
    change(image)
    sitk.WriteImage(image, str(target))
    return target


def _array_label(server, folder: Path, name: str, values: np.ndarray) -> Path:
    """``values`` on the target's grid, in their own dtype (write_label would refuse most of them)."""
    good = sitk.ReadImage(str(_good_label(server, folder)))
    image = sitk.GetImageFromArray(values, isVector=values.ndim == 4)
    image.SetOrigin(good.GetOrigin())
    image.SetSpacing(good.GetSpacing())
    image.SetDirection(good.GetDirection())
    path = folder / name
    sitk.WriteImage(image, str(path))
    return path


def _bad_labels(server, folder: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, words the refusal must contain)."""
    good = _good_label(server, folder)
    shape = _target(server).shape
    half = np.full((1, *shape), 0.5, np.float32)
    rgb = np.zeros((1, *shape, 3), np.uint8)
    return {
        "origin moved 5 mm": (_altered(good, folder / "origin.nrrd", _shift_origin), "not on its image's grid"),
        "rows and columns swapped": (_altered(good, folder / "direction.nrrd", _swap_axes), "not on its image's grid"),
        "probabilities 0.5": (_array_label(server, folder, "half.nrrd", half), "non-integer"),
        "negative int16": (_array_label(server, folder, "negative.nrrd", -np.ones((1, *shape), np.int16)), "0..255"),
        "uint16 above 255": (_array_label(server, folder, "big.nrrd", np.full((1, *shape), 300, np.uint16)), "0..255"),
        "values 0 and 2": (_array_label(server, folder, "two.nrrd", np.full((1, *shape), 2, np.uint8)), "only 0 and"),
        "RGB label": (_array_label(server, folder, "rgb.nrrd", rgb), "one value per pixel"),
        "two slices": (_array_label(server, folder, "slices.nrrd", np.zeros((2, *shape), np.uint8)), "single slice"),
        "PNG without the DICOM's spacing": (_png_label(shape, folder), "not on its image's grid"),
        "empty file": (_empty(folder), "rejected"),
    }


def _shift_origin(image: sitk.Image) -> None:
    image.SetOrigin(tuple(value + 5.0 for value in image.GetOrigin()))


def _swap_axes(image: sitk.Image) -> None:
    dimension = image.GetDimension()
    direction = np.array(image.GetDirection()).reshape(dimension, dimension)
    direction[:, [0, 1]] = direction[:, [1, 0]]
    image.SetDirection(direction.ravel().tolist())


def _png_label(shape: tuple, folder: Path) -> Path:
    path = folder / "label.png"
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros(shape, np.uint8)), str(path))
    return path


def _empty(folder: Path) -> Path:
    path = folder / "empty.nrrd"
    path.write_bytes(b"")
    return path


def _upload(server, path: Path, image_id: str = TARGET):
    with open(path, "rb") as stream:
        return server.put("/datastore/label", params={"image": image_id, "tag": "final"}, files={"label": stream})


def test_every_wrong_label_is_refused_with_its_reason_and_nothing_is_written(attack_server, tmp_path):
    assert not _stored(attack_server).exists()
    spool = files_under(attack_server.temp_dir)
    completed = attack_server.get("/info/").json()["datastore"]["completed"]
    for name, (path, words) in _bad_labels(attack_server, tmp_path).items():
        response = _upload(attack_server, path)
        assert response.status_code == 422, (name, response.status_code, response.text)
        assert words in response.json()["detail"], (name, response.json()["detail"])
    assert not _stored(attack_server).exists()
    assert files_under(attack_server.temp_dir) == spool, "refused uploads were left in the server's temp folder"
    assert attack_server.get("/info/").json()["datastore"]["completed"] == completed, "a refused label was counted"


def test_a_float_label_holding_0_and_1_is_accepted_and_stored_as_integers(attack_server, tmp_path):
    image_id = "demo-chest-006"
    image = read_cxr(attack_server.studies / f"{image_id}.png")
    mask = np.zeros(image.shape, np.float32)
    mask[5:25, 30:60] = 1.0
    response = _upload(attack_server, write_label(mask, like=image, path=tmp_path / "float.nrrd"), image_id)
    assert response.status_code == 200, response.text
    stored = read_mask(_stored(attack_server, image_id))
    assert stored.dtype == np.uint8 and np.array_equal(stored, mask.astype(np.uint8))


def test_a_refused_label_leaves_the_stored_one_untouched(attack_server, tmp_path):
    image_id = "demo-chest-008"
    image = read_cxr(attack_server.studies / f"{image_id}.png")
    mask = np.zeros(image.shape, np.uint8)
    mask[40:70, 50:90] = 1
    assert _upload(attack_server, write_label(mask, like=image, path=tmp_path / "first.nrrd"), image_id).ok
    before = _stored(attack_server, image_id).read_bytes()
    wrong = write_label(np.full(image.shape, 3, np.uint8), like=image, path=tmp_path / "threes.nrrd")
    assert _upload(attack_server, wrong, image_id).status_code == 422
    assert _stored(attack_server, image_id).read_bytes() == before


def test_a_label_for_an_unreadable_study_is_refused(attack_server, tmp_path):
    response = _upload(attack_server, _good_label(attack_server, tmp_path), "bad-truncated-dicom")
    assert response.status_code == 422 and "cannot be read" in response.json()["detail"], response.text
    assert not _stored(attack_server, "bad-truncated-dicom").exists()


def _oversize_label(folder: Path) -> Path:
    path = folder / "oversize.nrrd"
    path.write_bytes(b"NRRD0004\n" + b"\0" * (MAX_UPLOAD_MB * 2**20 + 1024))
    return path


def test_an_oversize_label_is_refused_from_its_declared_size(attack_server, tmp_path):
    spool = files_under(attack_server.temp_dir)
    response = _upload(attack_server, _oversize_label(tmp_path))
    assert response.status_code == 413, response.text
    assert "exceeds the limit" in response.json()["detail"] and "max_upload_mb" in response.json()["detail"]
    assert not _stored(attack_server).exists() and files_under(attack_server.temp_dir) == spool


def _chunked_put(server, path: str, body: bytes, boundary: str) -> tuple[int, bytes]:
    """A raw HTTP/1.1 PUT with ``Transfer-Encoding: chunked``: no Content-Length for a limit to check."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=60) as connection:
        head = (
            f"PUT {path} HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            + "".join(f"{name}: {value}\r\n" for name, value in server.auth_headers.items())
            + "\r\n"
        )
        connection.sendall(head.encode())
        try:
            for start in range(0, len(body), 65536):
                chunk = body[start : start + 65536]
                connection.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            connection.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before the whole body was sent: what a limit should do
        answer = b""
        try:
            while chunk := connection.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass  # the server closed on the unread rest of the body; its answer came before
    status = int(answer.split(b" ", 2)[1])
    return status, answer


def test_an_oversize_label_sent_without_a_declared_size_is_cut_off(attack_server, tmp_path):
    boundary = "ptxsegboundary"
    payload = _oversize_label(tmp_path).read_bytes()
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="label"; filename="oversize.nrrd"\r\n\r\n'.encode()
        + payload
        + f"\r\n--{boundary}--\r\n".encode()
    )
    spool = files_under(attack_server.temp_dir)
    status, answer = _chunked_put(attack_server, f"/datastore/label?image={TARGET}&tag=final", body, boundary)
    assert status == 413 and b"max_upload_mb" in answer, answer[:500]
    assert not _stored(attack_server).exists() and files_under(attack_server.temp_dir) == spool
    assert attack_server.get("/info/").status_code == 200
