"""multipart/form-data in both directions with the standard library only.

MONAI Label answers ``/infer?output=all`` with a multipart body (a JSON ``params`` part and the label file) and
takes uploads as form fields. The ``cgi`` module that older clients used is gone from Python 3.13, and
requests_toolbelt is not in every Slicer's Python, so ``email`` does the parsing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser

__all__ = ["FilePart", "Part", "decode_multipart", "encode_multipart"]


@dataclass(frozen=True)
class FilePart:
    """A file to upload: the form field name, the file name the server sees, and the bytes."""

    field: str
    filename: str
    content: bytes
    content_type: str = "application/octet-stream"


@dataclass(frozen=True)
class Part:
    """One decoded part of a multipart response."""

    name: str | None
    filename: str | None
    content_type: str
    content: bytes


def encode_multipart(fields: dict[str, str], files: list[FilePart]) -> tuple[bytes, str]:
    """A multipart/form-data body and its Content-Type header value.

    Example:
        >>> body, content_type = encode_multipart({"params": "{}"}, [FilePart("label", "label.nrrd", b"NRRD")])
        >>> content_type.startswith("multipart/form-data; boundary=")
        True
    """
    boundary = uuid.uuid4().hex
    chunks = []
    for name, value in fields.items():
        chunks.append(_part_header(boundary, f'name="{_quoted(name)}"', "text/plain; charset=utf-8"))
        chunks.append(value.encode("utf-8") + b"\r\n")
    for part in files:
        disposition = f'name="{_quoted(part.field)}"; filename="{_quoted(part.filename)}"'
        chunks.append(_part_header(boundary, disposition, part.content_type))
        chunks.append(part.content + b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode("ascii"))
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


def decode_multipart(body: bytes, content_type: str) -> list[Part]:
    """The parts of a multipart body, binary content untouched.

    Raises:
        ValueError: ``content_type`` is not multipart or names no boundary.

    Example:
        >>> body, content_type = encode_multipart({"params": '{"a": 1}'}, [])
        >>> decode_multipart(body, content_type)[0].content
        b'{"a": 1}'
    """
    if not content_type.lower().startswith("multipart/") or "boundary=" not in content_type:
        raise ValueError(f"expected a multipart Content-Type with a boundary, got {content_type!r}")
    envelope = b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n"
    message = BytesParser(policy=policy.HTTP).parsebytes(envelope + body)
    return [
        Part(
            name=part.get_param("name", header="content-disposition"),
            filename=part.get_filename(),
            content_type=part.get_content_type(),
            content=part.get_payload(decode=True) or b"",
        )
        for part in message.iter_parts()
    ]


def _part_header(boundary: str, disposition: str, content_type: str) -> bytes:
    return (
        f"--{boundary}\r\nContent-Disposition: form-data; {disposition}\r\nContent-Type: {content_type}\r\n\r\n"
    ).encode()


def _quoted(value: str) -> str:
    """Escape what would end a quoted header value early, percent-encoding as browsers do (WHATWG HTML)."""
    return value.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
