"""Files that attack the server: odd studies it must read, broken or hostile ones it must refuse, unsafe models.

Every builder writes small files (a few kB) except where size is the attack; the decompression bombs claim
30,000 x 30,000 pixels in about 100 kB.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import torch
from PIL import Image
from safetensors.torch import save_file

from tests.support.io_fixtures import marker_array, write_dicom, write_pillow

__all__ = [
    "BAD_STUDIES",
    "BOMB_SIDE",
    "GOOD_ODD_STUDIES",
    "write_bad_study",
    "write_foreign_safetensors",
    "write_foreign_torch_checkpoint",
    "write_good_odd_study",
    "write_pickle_payload",
]

BOMB_SIDE = 30_000

# id -> (suffix, what makes it odd); each must be inferred with a label on its own grid.
GOOD_ODD_STUDIES = {
    "odd-dicom16-mono2": (".dcm", "16 bits stored, MONOCHROME2"),
    "odd-dicom16-mono1": (".dcm", "12 of 16 bits stored, MONOCHROME1 (inverted)"),
    "odd-dicom-zero-spacing": (".dcm", "Pixel Spacing 0 \\ 0"),
    "odd-dicom-no-spacing": (".dcm", "no Pixel Spacing at all"),
    "odd-png16": (".png", "16-bit grey PNG"),
    "odd-png-rgb": (".png", "RGB PNG"),
    "odd-png-rgba": (".png", "RGBA PNG"),
    "odd-png-1x1": (".png", "a single pixel"),
}

# id -> (suffix, words the refusal must contain).
BAD_STUDIES = {
    "bad-truncated-dicom": (".dcm", "truncated or corrupt"),
    "bad-dicom-no-pixels": (".dcm", "without Pixel Data"),
    "bad-dicom-bomb": (".dcm", "decompression-bomb"),
    "bad-png-bomb": (".png", "decompression bomb"),
    "bad-truncated-png": (".png", "truncated or corrupt"),
    "bad-text-as-png": (".png", "not a PNG/JPEG/BMP/TIFF image"),
    "bad-text-as-dicom": (".dcm", "not a valid DICOM"),
    "bad-empty": (".png", "empty"),
}


def write_good_odd_study(folder: Path, image_id: str) -> Path:
    """Write one of ``GOOD_ODD_STUDIES`` into ``folder``; returns its path."""
    suffix, _ = GOOD_ODD_STUDIES[image_id]
    path = folder / f"{image_id}{suffix}"
    grey = marker_array()
    builders = {
        "odd-dicom16-mono2": lambda: write_dicom(path, marker_array(65535, np.uint16)),
        "odd-dicom16-mono1": lambda: write_dicom(
            path, marker_array(4095, np.uint16), photometric="MONOCHROME1", bits_stored=12
        ),
        "odd-dicom-zero-spacing": lambda: write_dicom(path, grey, PixelSpacing=[0, 0]),
        "odd-dicom-no-spacing": lambda: write_dicom(path, grey, PixelSpacing=None),
        "odd-png16": lambda: write_pillow(path, marker_array(65535, np.uint16)),
        "odd-png-rgb": lambda: write_pillow(path, np.stack([grey] * 3, axis=-1)),
        "odd-png-rgba": lambda: write_pillow(path, np.stack([grey] * 3, axis=-1), mode="RGBA"),
        "odd-png-1x1": lambda: write_pillow(path, np.full((1, 1), 128, np.uint8)),
    }
    return builders[image_id]()


def write_bad_study(folder: Path, image_id: str, scratch: Path) -> Path:
    """Write one of ``BAD_STUDIES`` into ``folder`` (``scratch``: a folder for intermediate files)."""
    suffix, _ = BAD_STUDIES[image_id]
    path = folder / f"{image_id}{suffix}"
    if image_id == "bad-truncated-dicom":
        whole = write_dicom(scratch / "whole.dcm", marker_array(4095, np.uint16), bits_stored=12).read_bytes()
        path.write_bytes(whole[: len(whole) * 2 // 3])
    elif image_id == "bad-dicom-no-pixels":
        dataset = pydicom.dcmread(write_dicom(scratch / "with-pixels.dcm", marker_array()))
        del dataset.PixelData
        dataset.save_as(path)
    elif image_id == "bad-dicom-bomb":
        # The header claims 30,000 x 30,000 (1.8 GB of 16-bit pixels); the data is a 32 x 40 image.
        write_dicom(path, marker_array(4095, np.uint16), bits_stored=12, Rows=BOMB_SIDE, Columns=BOMB_SIDE)
    elif image_id == "bad-png-bomb":
        Image.new("1", (BOMB_SIDE, BOMB_SIDE)).save(path, optimize=True)
    elif image_id == "bad-truncated-png":
        whole = write_pillow(scratch / "whole.png", (np.random.default_rng(0).random((64, 64)) * 255).astype(np.uint8))
        path.write_bytes(whole.read_bytes()[:2000])
    elif image_id in ("bad-text-as-png", "bad-text-as-dicom"):
        path.write_text("Patient report, not an image.\n" * 20)
    else:
        path.write_bytes(b"")
    return path


def write_pickle_payload(path: Path, marker: Path) -> Path:
    """A ``.pt`` checkpoint whose unpickling runs code: it creates ``marker``. Loading it safely must not."""
    torch.save({"state_dict": {"weight": torch.zeros(1)}, "metadata": _CreatesFile(marker)}, path)
    return path


class _CreatesFile:
    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        # Any callable runs at unpickling time: this one writes a file where the test can look for it.
        return exec, (f"open({self.marker!r}, 'w').write('the payload ran')",)


def write_foreign_safetensors(path: Path) -> Path:
    """A well-formed safetensors file of some other network (no ptxseg metadata, other tensor names)."""
    save_file({"classifier.weight": torch.randn(10, 64), "classifier.bias": torch.zeros(10)}, str(path))
    return path


def write_foreign_torch_checkpoint(path: Path) -> Path:
    """A plain (safe) PyTorch state dict of some other network."""
    torch.save({"conv1.weight": torch.randn(8, 3, 3, 3), "fc.weight": torch.randn(2, 8)}, path)
    return path
