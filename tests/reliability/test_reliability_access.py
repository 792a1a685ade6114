"""Access: loopback by default, a loud warning when exposed, a bearer token on every endpoint (the Slicer client
sends it, training still works behind it), and no patient identifier in any log line or response."""

from __future__ import annotations

import secrets
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from ptxseg.cli import serve as cli_serve
from ptxseg.cli.main import build_parser
from ptxseg.io.labels import write_label
from ptxseg.io.reader import read_cxr
from ptxseg.io.writers import quantize
from ptxseg.phantom.demo import DEMO_UID_ROOT
from ptxseg.phantom.synthetic import make_dataset
from ptxseg.serving.local_server import infer_all
from tests.support.io_fixtures import write_dicom
from tests.support.server_harness import make_test_studies, running_server
from tests.support.server_tools import listening_addresses, read_mask

SLICER_MODULE = Path(__file__).resolve().parents[2] / "slicer_plugin" / "PneumothoraxAnnotator"
if str(SLICER_MODULE) not in sys.path:
    sys.path.insert(0, str(SLICER_MODULE))  # as Slicer does (and tests/slicer_plugin/conftest.py)

from PneumothoraxAnnotatorLib.client import PtxsegClient  # noqa: E402
from PneumothoraxAnnotatorLib.errors import Unauthorized  # noqa: E402

pytestmark = pytest.mark.server

PHI = {"PatientName": "Doe^Jane", "PatientID": "SECRET-ID-123", "PatientBirthDate": "19700101"}
# The same person with values that break their DICOM value representations (a reader that touches them warns,
# quoting the value): invalid date, over-long name and id.
PHI_INVALID = {"PatientName": "Doe^Jane" + "^X" * 40, "PatientID": "SECRET-ID-123" * 6, "PatientBirthDate": "1970-1-1"}
PHI_STRINGS = ("Jane", "SECRET-ID-123", "19700101", "1970-1-1")
PHI_STUDIES = {"phi-valid": PHI, "phi-invalid-vr": PHI_INVALID}
PHANTOM = f"{DEMO_UID_ROOT}.3"


@pytest.fixture(scope="module")
def token() -> str:
    return secrets.token_urlsafe(24)


@pytest.fixture(scope="module")
def guarded_server(tmp_path_factory, token):
    """``ptxseg serve --host 0.0.0.0`` with ``PTXSEG_TOKEN_FILE``, over phantoms and two DICOMs of 'Doe^Jane'."""
    root = tmp_path_factory.mktemp("guarded-server")
    studies = make_test_studies(root / "studies", n_phantoms=6)
    phantom = next(iter(make_dataset(1, size=128, seed=11, positive_fraction=1.0)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pydicom objects to the invalid values, as it should
        for image_id, tags in PHI_STUDIES.items():
            write_dicom(studies / f"{image_id}.dcm", quantize(phantom.image, bits=12), bits_stored=12, **tags)
    token_file = root / "token"
    token_file.write_text(token + "\n")
    token_file.chmod(0o600)
    env = {"PTXSEG_TOKEN_FILE": str(token_file)}
    with running_server(studies, root / "model", env=env, host="0.0.0.0") as server:
        server.headers = {"Authorization": f"Bearer {token}"}
        server.phantom_mask = phantom.mask
        yield server


# (method, path, keyword arguments): every kind of endpoint, reading and writing.
ENDPOINTS = [
    ("get", "/info/", {}),
    ("get", "/docs", {}),
    ("get", "/openapi.json", {}),
    ("post", "/infer/pneumothorax", {"params": {"image": PHANTOM, "output": "json"}}),
    ("get", "/datastore/", {"params": {"output": "all"}}),
    ("get", "/datastore/image", {"params": {"image": PHANTOM}}),
    ("get", "/datastore/image/info", {"params": {"image": PHANTOM}}),
    ("put", "/datastore/label", {"params": {"image": PHANTOM}, "files": {"label": ("l.nrrd", b"NRRD0004")}}),
    ("put", "/datastore/image", {"params": {"image": "intruder"}, "files": {"file": ("x.png", b"\x89PNG")}}),
    ("delete", "/datastore/image", {"params": {"id": PHANTOM}}),
    ("post", "/activelearning/random", {"json": {}}),
    ("post", "/train/pneumothorax", {"json": {"max_epochs": 1}}),
    ("get", "/train/", {}),
    ("delete", "/train/", {}),
    ("post", "/scoring/pneumothorax_scores", {"json": {}}),
    ("get", "/logs/", {}),
    ("get", "/model/pneumothorax", {}),
    ("get", "/proxy/dicom/studies", {}),
]


def _request(server, method, path, kwargs, headers=None):
    return getattr(server, method)(path, headers=headers or {}, **kwargs)


def test_every_endpoint_refuses_a_missing_or_wrong_token_and_nothing_happens(guarded_server, token):
    wrong = [
        None,
        {"Authorization": f"Bearer {token[:-1]}"},
        {"Authorization": f"Bearer {token}x"},
        {"Authorization": token},
        {"Authorization": f"Basic {token}"},
        {"X-Token": token},
    ]
    for method, path, kwargs in ENDPOINTS:
        for headers in wrong:
            response = _request(guarded_server, method, path, kwargs, headers)
            assert response.status_code == 401, (method, path, headers, response.status_code)
            assert "bearer token" in response.json()["detail"] and response.headers["WWW-Authenticate"] == "Bearer"
    assert (guarded_server.studies / f"{PHANTOM}.dcm").is_file()
    assert not list(guarded_server.studies.glob("intruder.*"))
    assert not (guarded_server.studies / "labels" / "final" / f"{PHANTOM}.nrrd").exists()
    assert guarded_server.get("/train/", headers=guarded_server.headers).status_code == 404  # nothing started


def test_the_right_token_opens_the_endpoints(guarded_server):
    headers = guarded_server.headers
    assert guarded_server.get("/info/", headers=headers).json()["ptxseg"]["model"]["version"] >= 1
    assert guarded_server.get("/docs", headers=headers).status_code == 200
    response = guarded_server.post("/infer/pneumothorax", params={"image": PHANTOM, "output": "json"}, headers=headers)
    assert response.status_code == 200, response.text
    # Past the token, the usual answers: an unknown study is a 404, not a 401.
    assert guarded_server.delete("/datastore/image", params={"id": "no-such"}, headers=headers).status_code == 404


def test_the_slicer_client_sends_the_token(guarded_server, token, tmp_path):
    client = PtxsegClient(guarded_server.url, token=token)
    assert client.info()["ptxseg"]["model"]["version"] >= 1
    assert client.next_image("first")
    label_path, result = client.infer(PHANTOM, tmp_path)
    assert 0.0 <= result["pneumothorax_probability"] <= 1.0 and read_mask(label_path).shape == (128, 128)
    with pytest.raises(Unauthorized):
        PtxsegClient(guarded_server.url).info()
    with pytest.raises(Unauthorized):
        PtxsegClient(guarded_server.url, token="x" * 32).next_image("first")


def test_an_exposed_server_warns_and_listens_where_it_was_told(guarded_server):
    assert (
        "WARNING: binding to 0.0.0.0 exposes patient images to the network; every request needs the token"
        in guarded_server.log()
    )
    assert listening_addresses(guarded_server) == {"0.0.0.0"}


def test_by_default_the_server_listens_on_loopback_only(attack_server):
    assert listening_addresses(attack_server) == {"127.0.0.1"}
    assert "WARNING: binding" not in attack_server.log()


def test_a_stray_env_file_does_not_switch_keycloak_on(attack_server):
    assert (attack_server.studies.parent / ".env").read_text().startswith("MONAI_LABEL_AUTH_ENABLE=true")
    assert attack_server.get("/info/").status_code == 200  # Keycloak on would demand a JWT here


def test_keycloak_is_on_only_when_the_environment_asks_for_it(monkeypatch, tmp_path):
    monkeypatch.delenv("MONAI_LABEL_AUTH_ENABLE", raising=False)
    assert cli_serve.server_environment(tmp_path, {}, 8000)["MONAI_LABEL_AUTH_ENABLE"] == "false"
    monkeypatch.setenv("MONAI_LABEL_AUTH_ENABLE", "true")
    assert cli_serve.server_environment(tmp_path, {}, 8000)["MONAI_LABEL_AUTH_ENABLE"] == "true"


class _NoServer:
    """Stands in for the server process: ``ptxseg serve`` gets as far as starting it."""

    def __init__(self, *args, **kwargs):
        pass

    def wait(self):
        return 0


def test_exposing_the_server_without_a_token_of_ones_own_warns_and_generates_one(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(cli_serve, "check_port_free", lambda host, port: None)  # tested apart (orphans test)
    monkeypatch.setattr(cli_serve.subprocess, "Popen", _NoServer)
    monkeypatch.setattr(cli_serve.signal, "signal", lambda *args: None)
    monkeypatch.delenv("PTXSEG_TOKEN", raising=False)
    monkeypatch.delenv("PTXSEG_TOKEN_FILE", raising=False)
    monkeypatch.setenv("PTXSEG_TOKEN_FILE", "")  # restored (removed) after the test: ptxseg serve sets it
    model_dir = tmp_path / "model"
    arguments = ["--studies", str(tmp_path), "--host", "192.0.2.10", "--port", "8000", "--conf", "model_dir", model_dir]
    assert cli_serve.run(build_parser().parse_args(["serve", *map(str, arguments)])) == 0
    printed = capsys.readouterr()
    assert "WARNING: binding to 192.0.2.10 exposes patient images to the network; every request needs the token" in (
        printed.err
    )
    token_file = model_dir / "server-token"
    assert token_file.stat().st_mode & 0o777 == 0o600
    assert f"http://192.0.2.10:8000/?token={token_file.read_text()}" in printed.out


@pytest.fixture(scope="module")
def trained(guarded_server, token, tmp_path_factory):
    """Everything an annotator does with the two DICOMs of 'Doe^Jane' through the Slicer client, a wrong label
    included, then fine-tuning on their labels behind the token; returns the training status and every answer."""
    folder = tmp_path_factory.mktemp("phi-work")
    client = PtxsegClient(guarded_server.url, token=token)
    answers = [client.info(), client.datastore()]
    for image_id in PHI_STUDIES:
        label_path, result = client.infer(image_id, folder)
        answers += [result, label_path.read_bytes()]
        image = read_cxr(guarded_server.studies / f"{image_id}.dcm")
        label = write_label(guarded_server.phantom_mask, like=image, path=folder / "label.nrrd")
        answers.append(client.upload_label(image_id, label))
        wrong = write_label(np.full(image.shape, 5, np.uint8), like=image, path=folder / "wrong.nrrd")
        headers = guarded_server.headers
        refused = guarded_server.put(
            "/datastore/label", params={"image": image_id}, files={"label": wrong.read_bytes()}, headers=headers
        )
        assert refused.status_code == 422, refused.text
        info = guarded_server.get("/datastore/image/info", params={"image": image_id}, headers=headers)
        answers += [refused.content, info.content]
        _, label, result = infer_all(guarded_server, image_id, headers=guarded_server.headers)
        answers += [label, result]
    answers.append(client.start_training({"max_epochs": 1}))
    deadline = time.monotonic() + 600
    while (status := client.training_status())["status"] not in ("DONE", "ERROR", "STOPPED"):
        assert time.monotonic() < deadline, guarded_server.log()[-3000:]
        time.sleep(1)
    answers += [status, client.info(), client.datastore()]
    return status, answers


def test_training_works_behind_the_token(trained):
    status, _ = trained
    assert status["status"] == "DONE", status["details"]
    assert any(line.startswith("ptxseg_result: ") and '"promoted": true' in line for line in status["details"])


def test_no_patient_identifier_reaches_a_log_or_a_response(trained, guarded_server):
    _, answers = trained
    texts = {"server log": guarded_server.log()}
    texts |= {f"answer {n}": answer if isinstance(answer, bytes) else repr(answer) for n, answer in enumerate(answers)}
    texts |= {path.name: path.read_text(errors="replace") for path in guarded_server.model_dir.glob("*.json")}
    for name, text in texts.items():
        text = text.decode(errors="replace") if isinstance(text, bytes) else text
        leaked = [value for value in PHI_STRINGS if value in text]
        assert not leaked, f"{name} holds {leaked}"
    assert "phi-valid" in texts["server log"]  # the studies were worked on: the log is the right one
