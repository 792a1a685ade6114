"""PtxsegClient against a local stub server: request shapes, answers, and every failure as a typed error."""

import json
import time

import pytest
from PneumothoraxAnnotatorLib import (
    NotFound,
    ProtocolError,
    PtxsegClient,
    ServerBusy,
    ServerError,
    ServerTimeout,
    ServerUnavailable,
    Unauthorized,
)
from requests_toolbelt import MultipartDecoder, MultipartEncoder

SIIM_ID = "1.2.276.0.7230010.3.1.4.8323329.5597.1517875188.959090"
DICOM_BYTES = b"\x00" * 128 + b"DICM" + bytes(range(256)) * 4
NRRD_BYTES = b"NRRD0004\n# tiny\n\n" + bytes(range(256)) + b"\r\n--\r\n"


def monai_label_infer_answer(label_bytes, result, filename="tmp8k2.nrrd"):
    """What monailabel/endpoints/infer.py sends for output=all: a requests_toolbelt multipart body."""
    encoder = MultipartEncoder(
        fields={
            "params": (None, json.dumps(result), "application/json"),
            "image": (filename, label_bytes, "application/octet-stream"),
        }
    )
    return encoder.to_string(), {"Content-Type": encoder.content_type}


def test_info_sends_the_bearer_token_and_returns_the_json(stub_server):
    stub_server.answer("GET", "/info/", {"name": "ptxseg", "ptxseg": {"model": {"version": "7"}}})
    info = PtxsegClient(stub_server.url, token="s3cret").info()
    assert info["ptxseg"]["model"]["version"] == "7"
    assert stub_server.requests[-1].headers["authorization"] == "Bearer s3cret"


def test_no_authorization_header_without_a_token(stub_server):
    stub_server.answer("GET", "/info/", {})
    PtxsegClient(stub_server.url + "/").info()
    assert "authorization" not in stub_server.requests[-1].headers


def test_the_url_ptxseg_serve_prints_carries_its_token_and_is_remembered_without_it(stub_server):
    stub_server.answer("GET", "/info/", {})
    client = PtxsegClient(stub_server.url + "/?token=printed-token")
    client.info()
    assert stub_server.requests[-1].headers["authorization"] == "Bearer printed-token"
    assert client.server_url == stub_server.url
    explicit = PtxsegClient(stub_server.url + "/?token=printed-token", token="typed-token")
    explicit.info()
    assert stub_server.requests[-1].headers["authorization"] == "Bearer typed-token"


def test_a_bad_url_with_a_token_is_refused_without_echoing_the_token():
    with pytest.raises(ValueError) as refused:
        PtxsegClient("127.0.0.1:8000/?token=s3cret")
    assert "s3cret" not in str(refused.value)


def test_repr_hides_the_token():
    assert "s3cret" not in repr(PtxsegClient("http://127.0.0.1:8000", token="s3cret"))


@pytest.mark.parametrize("url", ["127.0.0.1:8000", "ftp://host", "", "http://"])
def test_a_server_url_without_http_scheme_and_host_is_rejected(url):
    with pytest.raises(ValueError, match="http://host:port"):
        PtxsegClient(url)


@pytest.mark.parametrize(
    "status, error_type",
    [(404, NotFound), (401, Unauthorized), (403, Unauthorized), (429, ServerBusy), (500, ServerError)],
)
def test_http_errors_become_typed_errors_with_status_and_the_servers_detail(stub_server, status, error_type):
    stub_server.answer("GET", "/info/", {"detail": f"detail for {status}"}, status=status)
    with pytest.raises(error_type) as caught:
        PtxsegClient(stub_server.url).info()
    assert isinstance(caught.value, ServerError)
    assert (caught.value.status, caught.value.message) == (status, f"detail for {status}")
    assert str(caught.value) == f"detail for {status} (HTTP {status})"


def test_a_plain_text_error_body_is_the_message(stub_server):
    stub_server.answer("GET", "/info/", b"Internal Server Error", status=500)
    with pytest.raises(ServerError) as caught:
        PtxsegClient(stub_server.url).info()
    assert caught.value.message == "Internal Server Error"


def test_fastapi_validation_errors_are_joined_into_one_message(stub_server):
    detail = [{"loc": ["query", "image"], "msg": "field required"}, {"loc": ["query", "tag"], "msg": "bad tag"}]
    stub_server.answer("GET", "/datastore/image", {"detail": detail}, status=422)
    with pytest.raises(ServerError) as caught:
        PtxsegClient(stub_server.url).download_image("x", "unused")
    assert caught.value.message == "field required; bad tag"


def test_a_slow_server_raises_server_timeout(stub_server):
    stub_server.answer("GET", "/info/", {}, delay_s=1.0)
    started = time.monotonic()
    with pytest.raises(ServerTimeout, match="within 0.2 s"):
        PtxsegClient(stub_server.url, timeout=0.2).info()
    assert time.monotonic() - started < 0.9


def test_a_timeout_is_a_kind_of_server_unavailable():
    assert issubclass(ServerTimeout, ServerUnavailable)


def test_no_server_raises_server_unavailable_naming_the_url(closed_port_url):
    with pytest.raises(ServerUnavailable, match="cannot reach the ptxseg server at " + closed_port_url) as caught:
        PtxsegClient(closed_port_url, timeout=2).info()
    assert caught.value.status is None


def test_a_non_json_success_raises_protocol_error(stub_server):
    stub_server.answer("GET", "/info/", b"<html>proxy login</html>")
    with pytest.raises(ProtocolError, match="expected JSON"):
        PtxsegClient(stub_server.url).info()


def test_next_image_posts_an_empty_json_body_to_the_strategy(stub_server):
    stub_server.answer("POST", "/activelearning/uncertainty", {"id": SIIM_ID, "name": f"{SIIM_ID}.dcm"})
    assert PtxsegClient(stub_server.url).next_image("uncertainty") == SIIM_ID
    request = stub_server.requests[-1]
    assert (request.headers["content-type"], json.loads(request.body)) == ("application/json", {})


def test_next_image_is_none_when_the_server_has_nothing_left(stub_server):
    stub_server.answer("POST", "/activelearning/first", {})
    assert PtxsegClient(stub_server.url).next_image("first") is None


def test_a_strategy_name_cannot_change_the_path(stub_server):
    with pytest.raises(NotFound):
        PtxsegClient(stub_server.url).next_image("../info")
    assert stub_server.requests[-1].path == "/activelearning/..%2Finfo"


def test_next_image_without_an_id_raises_protocol_error(stub_server):
    stub_server.answer("POST", "/activelearning/random", {"name": "x"})
    with pytest.raises(ProtocolError, match="no image id"):
        PtxsegClient(stub_server.url).next_image("random")


def test_download_image_keeps_a_uid_with_dots_as_the_file_name(stub_server, tmp_path):
    disposition = {"Content-Disposition": f'attachment; filename="{SIIM_ID}.dcm"'}
    stub_server.answer("GET", "/datastore/image", DICOM_BYTES, headers=disposition)
    path = PtxsegClient(stub_server.url).download_image(SIIM_ID, tmp_path)
    assert path == tmp_path / f"{SIIM_ID}.dcm"
    assert path.read_bytes() == DICOM_BYTES
    assert stub_server.requests[-1].query == {"image": SIIM_ID}


def test_download_image_recognises_dicom_without_a_file_name(stub_server, tmp_path):
    stub_server.answer("GET", "/datastore/image", DICOM_BYTES)
    assert PtxsegClient(stub_server.url).download_image("case7", tmp_path).name == "case7.dcm"


@pytest.mark.parametrize("hostile_id", ["../../outside", "/etc/passwd", "..", "a/../../b", "x?image=y&tag=z"])
def test_hostile_image_ids_stay_inside_the_download_folder_and_reach_the_server_verbatim(
    stub_server, tmp_path, hostile_id
):
    stub_server.answer("GET", "/datastore/image", DICOM_BYTES)
    dest = tmp_path / "downloads"
    path = PtxsegClient(stub_server.url).download_image(hostile_id, dest)
    assert path.parent == dest.resolve()
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [path.name]
    assert stub_server.requests[-1].query == {"image": hostile_id}


def test_infer_decodes_monai_labels_multipart_answer(stub_server, tmp_path):
    result = {"pneumothorax_probability": 0.91, "area_px": 420, "side": "left", "flag": True}
    body, headers = monai_label_infer_answer(NRRD_BYTES, result)
    stub_server.answer("POST", "/infer/pneumothorax", body, headers=headers)
    label_path, answer = PtxsegClient(stub_server.url).infer(SIIM_ID, tmp_path)
    assert answer == result
    assert label_path == tmp_path / f"{SIIM_ID}.label.nrrd"
    assert label_path.read_bytes() == NRRD_BYTES
    request = stub_server.requests[-1]
    assert request.query == {"image": SIIM_ID, "output": "all"}
    form = {part.headers[b"Content-Disposition"]: part.content for part in _decode(request)}
    assert form == {b'form-data; name="params"': b"{}"}


def test_infer_asks_for_the_probability_map_and_names_it_so(stub_server, tmp_path):
    body, headers = monai_label_infer_answer(NRRD_BYTES, {"model_version": "3"})
    stub_server.answer("POST", "/infer/pneumothorax", body, headers=headers)
    path, _ = PtxsegClient(stub_server.url).infer(SIIM_ID, tmp_path, params={"x": 1}, probability=True)
    assert path == tmp_path / f"{SIIM_ID}.probability.nrrd"
    form = {part.headers[b"Content-Disposition"]: part.content for part in _decode(stub_server.requests[-1])}
    assert form == {b'form-data; name="params"': b'{"x": 1, "probability_map": true}'}


def test_infer_types_an_unnamed_label_by_its_magic_bytes(stub_server, tmp_path):
    body, headers = monai_label_infer_answer(NRRD_BYTES, {}, filename="tmp_no_suffix")
    stub_server.answer("POST", "/infer/pneumothorax", body, headers=headers)
    label_path, _ = PtxsegClient(stub_server.url).infer("case", tmp_path)
    assert label_path.name == "case.label.nrrd"


def test_infer_without_a_label_part_raises_protocol_error(stub_server, tmp_path):
    stub_server.answer("POST", "/infer/pneumothorax", {"pneumothorax_probability": 0.1})
    with pytest.raises(ProtocolError, match="no label file"):
        PtxsegClient(stub_server.url).infer("case", tmp_path)


def test_infer_uses_its_own_longer_timeout(stub_server, tmp_path):
    body, headers = monai_label_infer_answer(NRRD_BYTES, {})
    stub_server.answer("POST", "/infer/pneumothorax", body, headers=headers, delay_s=0.4)
    label_path, _ = PtxsegClient(stub_server.url, timeout=0.1, infer_timeout=5).infer("case", tmp_path)
    assert label_path.read_bytes() == NRRD_BYTES


def test_upload_label_sends_the_file_and_params_as_form_fields(stub_server, tmp_path):
    label = tmp_path / f"{SIIM_ID}.edited.nrrd"
    label.write_bytes(NRRD_BYTES)
    stub_server.answer("PUT", "/datastore/label", {"image": SIIM_ID, "label": SIIM_ID})
    answer = PtxsegClient(stub_server.url).upload_label(SIIM_ID, label, {"annotator": "dr x"})
    assert answer == {"image": SIIM_ID, "label": SIIM_ID}
    request = stub_server.requests[-1]
    assert request.query == {"image": SIIM_ID, "tag": "final"}
    parts = {part.headers[b"Content-Disposition"]: part.content for part in _decode(request)}
    # The upload name carries only the suffix: the server types the stored file by all of the name's suffixes.
    assert parts == {
        b'form-data; name="params"': b'{"annotator": "dr x"}',
        b'form-data; name="label"; filename="label.nrrd"': NRRD_BYTES,
    }


def test_upload_label_rejects_a_file_of_unknown_type(tmp_path):
    label = tmp_path / "label.txt"
    label.write_text("1")
    with pytest.raises(ValueError, match=".nrrd or .nii.gz"):
        PtxsegClient("http://127.0.0.1:1").upload_label("case", label)


def test_download_label_asks_for_the_tag_and_saves_inside_the_folder(stub_server, tmp_path):
    disposition = {"Content-Disposition": f'attachment; filename="{SIIM_ID}.nrrd"'}
    stub_server.answer("GET", "/datastore/label", NRRD_BYTES, headers=disposition)
    path = PtxsegClient(stub_server.url).download_label(SIIM_ID, tmp_path)
    assert (path.name, path.read_bytes()) == (f"{SIIM_ID}.final.nrrd", NRRD_BYTES)
    assert stub_server.requests[-1].query == {"label": SIIM_ID, "tag": "final"}


def test_start_training_posts_the_params_and_maps_already_running_to_busy(stub_server):
    stub_server.answer("POST", "/train/pneumothorax", {"id": "t1", "status": "SUBMITTED"})
    assert PtxsegClient(stub_server.url).start_training({"max_epochs": 1})["status"] == "SUBMITTED"
    assert json.loads(stub_server.requests[-1].body) == {"max_epochs": 1}
    stub_server.answer("POST", "/train/pneumothorax", {"detail": "Train Task is Already Running"}, status=429)
    with pytest.raises(ServerBusy, match="Already Running"):
        PtxsegClient(stub_server.url).start_training({"max_epochs": 1})


def test_training_status_is_none_when_the_server_has_no_task(stub_server):
    stub_server.answer("GET", "/train/", {"detail": "No Train Tasks Found"}, status=404)
    assert PtxsegClient(stub_server.url).training_status() is None


def test_training_status_can_ask_only_for_a_running_task(stub_server):
    stub_server.answer("GET", "/train/", {"id": "t1", "status": "RUNNING"})
    assert PtxsegClient(stub_server.url).training_status(check_if_running=True)["status"] == "RUNNING"
    assert stub_server.requests[-1].query == {"check_if_running": "true"}


def test_stop_training_deletes_and_returns_none_when_nothing_ran(stub_server):
    stub_server.answer("DELETE", "/train/", None)
    assert PtxsegClient(stub_server.url).stop_training() == {}
    stub_server.answer("DELETE", "/train/", b"null", headers={"Content-Type": "application/json"})
    assert PtxsegClient(stub_server.url).stop_training() is None


def test_scoring_posts_to_the_scoring_method(stub_server):
    stub_server.answer("POST", "/scoring/pneumothorax_scores", {"id": "s1", "status": "SUBMITTED"})
    assert PtxsegClient(stub_server.url).start_scoring()["id"] == "s1"
    stub_server.answer("GET", "/scoring/", {"id": "s1", "status": "DONE"})
    assert PtxsegClient(stub_server.url).scoring_status()["status"] == "DONE"


def test_worklist_reads_the_full_datastore_listing(stub_server):
    objects = {
        "low": {"image": {"info": {"ptx_probability": 0.1, "ptx_model_version": "2"}}, "labels": {}},
        "high": {"image": {"info": {"ptx_probability": 0.8, "ptx_flag": True, "ptx_model_version": "1"}}},
        "done": {"image": {"info": {"ptx_probability": 0.99}}, "labels": {"final": {"info": {}}}},
    }
    stub_server.answer("GET", "/datastore/", {"name": "ds", "objects": objects})
    rows = PtxsegClient(stub_server.url).worklist(current_model_version="2")
    assert [(row.image_id, row.flagged, row.stale) for row in rows] == [("high", True, True), ("low", False, False)]
    assert stub_server.requests[-1].query == {"output": "all"}


def _decode(request):
    return MultipartDecoder(request.body, request.headers["content-type"]).parts
