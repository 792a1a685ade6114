"""multipart/form-data without the cgi module, and download names that cannot escape their folder."""

import json
import random
from pathlib import Path

import pytest
from PneumothoraxAnnotatorLib.filenames import safe_path, safe_stem, suffix_from_magic, suffix_from_name
from PneumothoraxAnnotatorLib.multipart import FilePart, decode_multipart, encode_multipart
from requests_toolbelt import MultipartDecoder, MultipartEncoder

# Byte runs that trip naive parsers: line ends, boundary-like dashes, mbox "From ", NULs, high bytes.
TRICKY_RUNS = [b"\r", b"\n", b"\r\n", b"\r\n\r\n", b"--", b"\r\n--", b"From ", b"\x00", b"\xff", b"="]


def tricky_bytes(seed, length=3000):
    chooser = random.Random(seed)
    runs = (
        chooser.choice(TRICKY_RUNS) if chooser.random() < 0.5 else bytes([chooser.randrange(256)])
        for _ in range(length)
    )
    return b"".join(runs)


@pytest.mark.parametrize("seed", range(20))
def test_decoding_monai_labels_encoding_returns_the_binary_part_byte_for_byte(seed):
    label = tricky_bytes(seed)
    encoder = MultipartEncoder(
        fields={
            "params": (None, json.dumps({"area_px": 12}), "application/json"),
            "image": ("tmpabc.nrrd", label, "application/octet-stream"),
        }
    )
    parts = decode_multipart(encoder.to_string(), encoder.content_type)
    assert [(part.name, part.filename, part.content_type) for part in parts] == [
        ("params", None, "application/json"),
        ("image", "tmpabc.nrrd", "application/octet-stream"),
    ]
    assert parts[0].content == b'{"area_px": 12}'
    assert parts[1].content == label


def test_an_empty_binary_part_decodes_to_empty_bytes():
    encoder = MultipartEncoder(fields={"image": ("empty.nrrd", b"", "application/octet-stream")})
    assert decode_multipart(encoder.to_string(), encoder.content_type)[0].content == b""


@pytest.mark.parametrize("content_type", ["application/json", "multipart/form-data"])
def test_decoding_needs_a_multipart_content_type_with_a_boundary(content_type):
    with pytest.raises(ValueError, match="boundary"):
        decode_multipart(b"{}", content_type)


@pytest.mark.parametrize("seed", range(5))
def test_encoded_forms_decode_with_an_independent_parser(seed):
    content = tricky_bytes(seed)
    body, content_type = encode_multipart({"params": '{"a": "é"}'}, [FilePart("label", "label.nii.gz", content)])
    parts = MultipartDecoder(body, content_type).parts
    assert [part.headers[b"Content-Disposition"] for part in parts] == [
        b'form-data; name="params"',
        b'form-data; name="label"; filename="label.nii.gz"',
    ]
    assert parts[0].content == '{"a": "é"}'.encode()
    assert parts[1].content == content


def test_quotes_and_line_breaks_in_names_cannot_forge_headers():
    body, content_type = encode_multipart({}, [FilePart("label", 'x"\r\nContent-Type: text/html\r\n.nrrd', b"1")])
    (part,) = MultipartDecoder(body, content_type).parts
    assert part.headers[b"Content-Type"] == b"application/octet-stream"
    assert b"%22%0D%0AContent-Type" in part.headers[b"Content-Disposition"]


def test_a_siim_uid_is_its_own_file_name():
    uid = "1.2.276.0.7230010.3.1.4.8323329.5597.1517875188.959090"
    assert safe_stem(uid) == uid


HOSTILE_IDS = [
    "../../etc/passwd",
    "/etc/passwd",
    "..",
    ".",
    ".hidden",
    "a/../../b",
    "C:\\Windows\\system32",
    "CON",
    "nul.txt",
    "evil\x00.dcm",
    "ünïcødé",
    "x" * 500,
]


@pytest.mark.parametrize("image_id", HOSTILE_IDS)
def test_hostile_ids_become_plain_names_directly_inside_the_folder(image_id, tmp_path):
    path = safe_path(tmp_path, image_id, ".dcm")
    assert path.parent == tmp_path.resolve()
    assert path.name.endswith(".dcm") and not path.name.startswith(".")
    assert set(path.stem) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
    assert len(path.name) <= 140
    path.write_bytes(b"ok")  # the operating system accepts the name


def test_different_hostile_ids_get_different_names(tmp_path):
    names = {safe_path(tmp_path, image_id, ".dcm").name for image_id in HOSTILE_IDS + ["etc/passwd", "etc_passwd"]}
    assert len(names) == len(HOSTILE_IDS) + 2


def test_reserved_windows_names_get_a_hash():
    assert safe_stem("CON") != "CON" and safe_stem("CON").startswith("CON-")
    assert safe_stem("console") == "console"


def test_an_empty_id_is_rejected_with_a_hint():
    with pytest.raises(ValueError, match="next image"):
        safe_stem("")


def test_unknown_suffixes_are_refused(tmp_path):
    with pytest.raises(ValueError, match="suffix"):
        safe_path(tmp_path, "case", ".exe")


@pytest.mark.parametrize(
    "filename, suffix",
    [("a.seg.nrrd", ".seg.nrrd"), ("1.2.3.DCM", ".dcm"), ("x.nii.gz", ".nii.gz"), ("x.gz", None), (None, None)],
)
def test_suffix_from_name_prefers_the_longest_known_suffix(filename, suffix):
    assert suffix_from_name(filename) == suffix


@pytest.mark.parametrize(
    "head, suffix",
    [
        (b"NRRD0005\n", ".nrrd"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 8, ".png"),
        (b"\xff\xd8\xff\xe0", ".jpg"),
        (b"\x1f\x8b\x08\x00", ".nii.gz"),
        (b"\x00" * 128 + b"DICM", ".dcm"),
        (b"\x00" * 344 + b"n+1\x00", ".nii"),
        (b"<html>", None),
    ],
)
def test_suffix_from_magic_bytes(head, suffix):
    assert suffix_from_magic(head) == suffix


def test_real_siim_dicom_is_recognised_by_its_magic(siim_sample):
    dicom = next(Path(siim_sample, "dicom").glob("*.dcm"))
    assert suffix_from_magic(dicom.read_bytes()[:352]) == ".dcm"
