"""Mutated chest X-ray and label files for the fuzz tests: case ``i`` of seed ``s`` is always the same bytes.

A plain seeded mutator rather than Hypothesis: the inputs are whole files built by format-aware edits (a DICOM
element removed, a transfer syntax that lies, a PNG header claiming a huge image...) that Hypothesis would only
wrap as opaque strategies; its shrinking does little for a 100 kB file, and its example database and health checks
make a CI run depend on earlier runs. Here a failure is reproduced from its case name alone
(``fuzz_case(seeds, "dicom-siim", 1234)``), the counts are exact, and no dependency is added.

Seeds: the shared SIIM DICOMs (read from ``/work/shared``-style folders, never copied into the repository), phantom
DICOMs (8/12/16 bit, MONOCHROME1), PNG/JPEG/TIFF/BMP images, NRRD/NIfTI images, and labels in every label format.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
import SimpleITK as sitk
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLosslessSV1,
    RLELossless,
)

from ptxseg.io.labels import write_label
from ptxseg.io.reader import read_cxr
from ptxseg.io.writers import write_dicom
from ptxseg.phantom.synthetic import make_phantom

__all__ = ["FuzzCase", "Seed", "fuzz_case", "make_seeds"]

HUGE = 2**31 - 1


@dataclass(frozen=True)
class Seed:
    """A well-formed file to mutate: its name (``kind-source``), suffix, bytes, and whether it is a label."""

    name: str
    suffix: str
    content: bytes
    label: bool = False


@dataclass(frozen=True)
class FuzzCase:
    """One mutated input: where it came from, what was done to it, and its bytes."""

    name: str
    suffix: str
    content: bytes
    mutations: tuple[str, ...]
    label: bool


def make_seeds(folder: Path, siim_dicoms: list[Path]) -> list[Seed]:
    """Well-formed seeds, built in ``folder`` (phantoms at 64-96 px keep each case a few milliseconds)."""
    folder.mkdir(parents=True, exist_ok=True)
    grey = (make_phantom(size=64, seed=1).image * 255).astype(np.uint8)
    wide = (make_phantom(shape=(72, 96), seed=2).image * 4095).astype(np.uint16)
    seeds = [Seed(f"dicom-siim{i}", ".dcm", path.read_bytes()) for i, path in enumerate(siim_dicoms[:3])]
    seeds.append(Seed("dicom-8bit", ".dcm", write_dicom(grey, folder / "p8.dcm").read_bytes()))
    seeds.append(Seed("dicom-12bit", ".dcm", write_dicom(wide, folder / "p12.dcm", bits_stored=12).read_bytes()))
    mono1 = pydicom.dcmread(folder / "p12.dcm")
    mono1.PhotometricInterpretation = "MONOCHROME1"
    mono1.save_as(folder / "m1.dcm")
    seeds.append(Seed("dicom-mono1", ".dcm", (folder / "m1.dcm").read_bytes()))
    for suffix, mode in ((".png", "L"), (".png", "RGB"), (".jpg", "L"), (".tif", "I;16"), (".bmp", "L")):
        data = Image.fromarray(wide if mode == "I;16" else grey)
        buffer = io.BytesIO()
        (data if mode == "I;16" else data.convert(mode)).save(buffer, format=Image.registered_extensions()[suffix])
        seeds.append(Seed(f"raster-{mode}{suffix}", suffix, buffer.getvalue()))
    for suffix in (".nrrd", ".nii.gz", ".nii"):
        image = sitk.GetImageFromArray(wide)
        image.SetSpacing((0.3, 0.2))
        sitk.WriteImage(image, str(folder / f"v{suffix}"), useCompression=suffix != ".nii")
        seeds.append(Seed(f"volume{suffix}", suffix, (folder / f"v{suffix}").read_bytes()))
    like = read_cxr(folder / "p8.dcm")
    Image.fromarray(grey).save(folder / "g.png")
    like_png = read_cxr(folder / "g.png")
    mask = np.zeros(like.shape, np.uint8)
    mask[10:30, 20:40] = 1
    for suffix in (".nrrd", ".nii.gz", ".nii"):
        path = write_label(mask, like=like, path=folder / f"label{suffix}")
        seeds.append(Seed(f"label{suffix}", suffix, path.read_bytes(), label=True))
    path = write_label(mask, like=like_png, path=folder / "label.png")
    seeds.append(Seed("label.png", ".png", path.read_bytes(), label=True))
    return seeds


def fuzz_case(seeds: list[Seed], index: int, seed: int = 0) -> FuzzCase:
    """Case ``index`` of the run seeded ``seed``: one to three mutations of one seed, chosen from its format's."""
    rng = np.random.default_rng([seed, index])
    base = seeds[index % len(seeds)]
    content, applied = base.content, []
    for _ in range(int(rng.integers(1, 4))):
        mutations = _mutations_for(base.suffix, content)
        name = str(rng.choice(sorted(mutations)))
        try:
            content = mutations[name](content, rng)
        except Exception as error:  # the seed no longer parses for a structural edit: that mutation is void
            name = f"{name}(void: {type(error).__name__})"
        applied.append(name)
    return FuzzCase(f"{base.name}#{index}", base.suffix, content, tuple(applied), base.label)


def _mutations_for(suffix: str, content: bytes) -> dict[str, Callable[[bytes, np.random.Generator], bytes]]:
    mutations = dict(BYTE_MUTATIONS)
    if suffix == ".dcm":
        mutations |= DICOM_MUTATIONS
    elif suffix == ".png":
        mutations |= PNG_MUTATIONS
    elif suffix in (".nrrd",):
        mutations |= NRRD_MUTATIONS
    elif suffix == ".nii":
        mutations |= NIFTI_MUTATIONS
    return mutations


# --- byte level: any format ---------------------------------------------------------------------------------------


def _flip_bytes(content: bytes, rng) -> bytes:
    data = bytearray(content)
    for position in rng.integers(0, len(data), size=int(rng.integers(1, 16))):
        data[position] ^= 1 << int(rng.integers(0, 8))
    return bytes(data)


def _truncate(content: bytes, rng) -> bytes:
    return content[: int(rng.integers(0, len(content)))]


def _insert_random(content: bytes, rng) -> bytes:
    position = int(rng.integers(0, len(content) + 1))
    return content[:position] + rng.bytes(int(rng.integers(1, 512))) + content[position:]


def _overwrite_header(content: bytes, rng) -> bytes:
    start = int(rng.integers(0, min(len(content), 400)))
    fill = bytes([int(rng.choice([0, 0xFF]))]) * int(rng.integers(1, 64))
    return content[:start] + fill + content[start + len(fill) :]


def _duplicate_chunk(content: bytes, rng) -> bytes:
    start = int(rng.integers(0, len(content)))
    chunk = content[start : start + int(rng.integers(1, 4096))]
    return content[:start] + chunk * int(rng.integers(2, 8)) + content[start:]


def _huge_integer(content: bytes, rng) -> bytes:
    """A 32-bit field somewhere in the first kilobyte set to a huge value (lengths, sizes, offsets)."""
    data = bytearray(content)
    position = int(rng.integers(0, max(1, min(len(data) - 4, 1024))))
    data[position : position + 4] = struct.pack("<I", int(rng.choice([0xFFFFFFFF, 0x7FFFFFFF, 0xFFFFFFF0])))
    return bytes(data)


BYTE_MUTATIONS = {
    "flip bits": _flip_bytes,
    "truncate": _truncate,
    "insert random bytes": _insert_random,
    "overwrite header": _overwrite_header,
    "duplicate chunk": _duplicate_chunk,
    "huge integer": _huge_integer,
}

# --- DICOM: header fields flipped or removed, lies, truncated pixel data, huge sizes, sequence bombs --------------


def _dicom_edit(edit: Callable[[Dataset, np.random.Generator], None]):
    def mutate(content: bytes, rng) -> bytes:
        dataset = pydicom.dcmread(io.BytesIO(content), force=True)
        edit(dataset, rng)
        buffer = io.BytesIO()
        dataset.save_as(buffer, write_like_original=True)
        return buffer.getvalue()

    return mutate


_REMOVABLE = (
    "Rows", "Columns", "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation", "SamplesPerPixel",
    "PhotometricInterpretation", "PixelSpacing", "WindowCenter", "WindowWidth", "RescaleSlope", "RescaleIntercept",
    "PixelData", "TransferSyntaxUID", "NumberOfFrames", "PlanarConfiguration",
)  # fmt: skip


def _remove_element(dataset: Dataset, rng) -> None:
    keyword = str(rng.choice(_REMOVABLE))
    if keyword == "TransferSyntaxUID":
        del dataset.file_meta.TransferSyntaxUID
    elif keyword in dataset:
        delattr(dataset, keyword)


_ODD_VALUES = {
    "Rows": [0, 1, 65535, 30000],
    "Columns": [0, 1, 65535, 30000],
    "BitsAllocated": [0, 1, 7, 12, 32, 64],
    "BitsStored": [0, 1, 17, 32, 64],
    "HighBit": [0, 31, 63],
    "PixelRepresentation": [1, 2],
    "SamplesPerPixel": [0, 2, 3, 4],
    "PlanarConfiguration": [1, 2],
    "NumberOfFrames": ["0", "-1", "2", "100000"],
    "PhotometricInterpretation": ["RGB", "PALETTE COLOR", "YBR_FULL_422", "YBR_ICT", "MONOCHROME3", "", "\x00"],
    "PixelSpacing": [["0", "0"], ["-1", "1"], ["nan", "inf"], ["1e308", "1e308"], ["1"], ["abc", "d"]],
    "WindowCenter": ["nan", "1e308", "-inf", ["1", "2", "3"], "x"],
    "WindowWidth": ["0", "-5", "nan", "1e-300", ""],
    "RescaleSlope": ["0", "nan", "1e308", "-1"],
    "RescaleIntercept": ["nan", "-1e308"],
    "VOILUTFunction": ["SIGMOID", "LINEAR_EXACT", "BOGUS"],
}


def _odd_value(dataset: Dataset, rng) -> None:
    keyword = str(rng.choice(sorted(_ODD_VALUES)))
    values = _ODD_VALUES[keyword]
    setattr(dataset, keyword, values[int(rng.integers(0, len(values)))])


_SYNTAXES = (
    ImplicitVRLittleEndian, ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian, JPEGBaseline8Bit, JPEGLosslessSV1,
    JPEG2000Lossless, RLELossless, "1.2.3.4.5.6", "",
)  # fmt: skip


def _lying_syntax(dataset: Dataset, rng) -> None:
    dataset.file_meta.TransferSyntaxUID = _SYNTAXES[int(rng.integers(0, len(_SYNTAXES)))]


def _truncated_pixels(dataset: Dataset, rng) -> None:
    data = dataset.PixelData
    dataset.PixelData = data[: int(rng.integers(0, len(data)))]


def _bogus_voi_lut(dataset: Dataset, rng) -> None:
    item = Dataset()
    item.LUTDescriptor = [int(rng.integers(0, 70000)), int(rng.integers(-5, 70000)), int(rng.integers(0, 40))]
    item.LUTData = [int(value) for value in rng.integers(0, 65535, size=int(rng.integers(0, 32)))]
    dataset.VOILUTSequence = Sequence([item])


def _sequence_bomb(dataset: Dataset, rng) -> None:
    """Deeply nested or very wide sequences before the pixel data."""
    if rng.random() < 0.5:
        inner = Dataset()
        for _ in range(int(rng.integers(20, 120))):
            outer = Dataset()
            outer.ReferencedImageSequence = Sequence([inner])
            inner = outer
        dataset.ReferencedImageSequence = inner.ReferencedImageSequence
    else:
        item = Dataset()
        item.ReferencedSOPInstanceUID = "1.2.3"
        dataset.ReferencedImageSequence = Sequence([item] * int(rng.integers(1000, 20000)))


def _pixel_length_lie(content: bytes, rng) -> bytes:
    """The Pixel Data element's declared length rewritten (huge, odd, undefined) without changing the data."""
    data = bytearray(content)
    position = content.rfind(b"\xe0\x7f\x10\x00")
    if position < 0:
        raise ValueError("no Pixel Data tag")
    length = int(rng.choice([0xFFFFFFFF, 0xFFFFFFF0, 0x7FFFFFFF, 1, 3]))
    if content[position + 4 : position + 6] in (b"OB", b"OW"):
        data[position + 8 : position + 12] = struct.pack("<I", length)
    else:
        data[position + 4 : position + 8] = struct.pack("<I", length)
    return bytes(data)


DICOM_MUTATIONS = {
    "dicom: remove element": _dicom_edit(_remove_element),
    "dicom: odd value": _dicom_edit(_odd_value),
    "dicom: lying transfer syntax": _dicom_edit(_lying_syntax),
    "dicom: truncated pixel data": _dicom_edit(_truncated_pixels),
    "dicom: bogus VOI LUT": _dicom_edit(_bogus_voi_lut),
    "dicom: sequence bomb": _dicom_edit(_sequence_bomb),
    "dicom: pixel data length lie": _pixel_length_lie,
}

# --- PNG: chunk fields with valid CRCs, so the decoder gets past the checksum ------------------------------------


def _png_chunks(content: bytes) -> list[list]:
    if content[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    chunks, position = [], 8
    while position + 8 <= len(content):
        (length,) = struct.unpack(">I", content[position : position + 4])
        kind = content[position + 4 : position + 8]
        chunks.append([kind, content[position + 8 : position + 8 + length]])
        position += 12 + length
    return chunks


def _png_bytes(chunks: list[list]) -> bytes:
    out = [b"\x89PNG\r\n\x1a\n"]
    for kind, body in chunks:
        out.append(struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body)))
    return b"".join(out)


def _png_header(content: bytes, rng) -> bytes:
    chunks = _png_chunks(content)
    header = bytearray(chunks[0][1])
    field = int(rng.integers(0, 4))
    if field == 0:
        header[0:8] = struct.pack(">II", int(rng.choice([0, 1, 30000, HUGE])), int(rng.choice([0, 1, 30000, HUGE])))
    elif field == 1:
        header[8] = int(rng.choice([0, 3, 7, 16, 32]))  # bit depth
    elif field == 2:
        header[9] = int(rng.choice([1, 3, 5, 7, 255]))  # colour type (3 = palette, without PLTE)
    else:
        header[12] = 1  # interlaced
    chunks[0][1] = bytes(header)
    return _png_bytes(chunks)


def _png_data(content: bytes, rng) -> bytes:
    chunks = _png_chunks(content)
    for chunk in chunks:
        if chunk[0] == b"IDAT":
            if rng.random() < 0.5:
                chunk[1] = chunk[1][: int(rng.integers(0, len(chunk[1])))]
            else:  # a zlib bomb: a tiny stream inflating to far more than the image needs
                chunk[1] = zlib.compress(b"\x00" * int(rng.integers(10**6, 5 * 10**7)), 9)
    return _png_bytes(chunks)


def _png_extra_chunks(content: bytes, rng) -> bytes:
    chunks = _png_chunks(content)
    extra = [b"tEXt", b"x" * int(rng.integers(0, 2**20))] if rng.random() < 0.5 else [b"PLTE", rng.bytes(7)]
    chunks.insert(1, extra)
    return _png_bytes(chunks)


PNG_MUTATIONS = {
    "png: header field": _png_header,
    "png: pixel stream": _png_data,
    "png: extra chunk": _png_extra_chunks,
}

# --- NRRD: header lines rewritten (the text header is where a reader trusts the file) ---------------------------


_NRRD_LINES = (
    "sizes: 30000 30000", "sizes: 0 5", "sizes: 64 64 64 64", "dimension: 4", "dimension: 0", "type: double",
    "type: bogus", "encoding: gzip", "encoding: raw", "encoding: bzip2", "encoding: hex", "endian: big",
    "space directions: (nan,0) (0,nan)", "space directions: (0,0) (0,0)", "space origin: (inf,inf)",
    "data file: /etc/passwd", "data file: ../../../etc/hostname", "data file: LIST", "kinds: RGB-color domain",
    "line skip: 99999999", "byte skip: -1",
)  # fmt: skip


def _nrrd_header(content: bytes, rng) -> bytes:
    header, separator, data = content.partition(b"\n\n")
    if not separator:
        raise ValueError("no NRRD header")
    lines = header.split(b"\n")
    new = _NRRD_LINES[int(rng.integers(0, len(_NRRD_LINES)))].encode()
    key = new.split(b":")[0]
    lines = [line for line in lines if not line.startswith(key + b":")] + [new]
    return b"\n".join(lines) + separator + data


NRRD_MUTATIONS = {"nrrd: header line": _nrrd_header}

# --- NIfTI-1 (uncompressed): header fields at their offsets ---------------------------------------------------


_NIFTI_FIELDS = {  # offset, struct format, odd values
    "dim": (40, "<8h", [(7, 64, 64, 64, 64, 64, 64, 64), (2, 0, 64, 1, 1, 1, 1, 1), (2, 30000, 30000, 1, 1, 1, 1, 1)]),
    "datatype": (70, "<h", [(0,), (128,), (2304,), (1536,), (-1,)]),
    "bitpix": (72, "<h", [(0,), (1,), (128,)]),
    "pixdim": (76, "<8f", [(1, float("nan"), float("inf"), 0, 0, 0, 0, 0), (1, -1, -1, 1, 1, 1, 1, 1)]),
    "vox_offset": (108, "<f", [(0.0,), (1e12,), (-352.0,), (float("nan"),)]),
    "sform": (254, "<h", [(4,), (-1,)]),
}


def _nifti_field(content: bytes, rng) -> bytes:
    name = str(rng.choice(sorted(_NIFTI_FIELDS)))
    offset, layout, values = _NIFTI_FIELDS[name]
    data = bytearray(content)
    data[offset : offset + struct.calcsize(layout)] = struct.pack(layout, *values[int(rng.integers(0, len(values)))])
    return bytes(data)


NIFTI_MUTATIONS = {"nifti: header field": _nifti_field}
