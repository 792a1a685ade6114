"""Write a set of synthetic chest X-rays to disk in the layouts real data comes in (DICOM, PNG, SIIM-ACR)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pydicom.uid import generate_uid
from scipy import ndimage

from ptxseg.datasets.siim import rle_encode
from ptxseg.io.writers import quantize, write_dicom, write_png
from ptxseg.phantom.synthetic import Phantom, make_dataset

__all__ = ["PHANTOM_FORMATS", "WrittenPhantom", "write_phantoms"]

PHANTOM_FORMATS = ("dicom", "png", "siim")
# A chest film is about 35 cm wide: the pixel spacing follows from the image size.
_FIELD_OF_VIEW_MM = 350.0
_DICOM_BITS = 12  # as a CR/DX detector stores; SIIM's own DICOMs are 8-bit
_SIIM_BITS = 8
_RLE_CSV_NAME = "train-rle.csv"


@dataclass(frozen=True)
class WrittenPhantom:
    """One phantom on disk.

    Attributes:
        image_id: its id: ``phantom-0000``... or, in the SIIM layout, a dotted DICOM UID.
        image_path: the image file.
        mask_path: its mask PNG (0/255), or the shared ``train-rle.csv`` in the SIIM layout.
        side: the pneumothorax side in patient terms, None if negative.
    """

    image_id: str
    image_path: Path
    mask_path: Path
    side: str | None


def write_phantoms(
    out_dir: str | os.PathLike,
    n: int,
    size: int = 256,
    fmt: str = "png",
    seed: int = 0,
    positive_fraction: float = 0.5,
    difficulty: float = 0.5,
) -> list[WrittenPhantom]:
    """Write ``n`` phantoms with their ground truth under ``out_dir`` (created if missing).

    Layouts:
        - ``dicom``: ``<out>/<id>.dcm`` (12-bit CR) and ``<out>/masks/<id>.png``.
        - ``png``: ``<out>/images/<id>.png`` (8-bit) and ``<out>/masks/<id>.png``.
        - ``siim``: ``<out>/dicom/<uid>.dcm`` (8-bit, named by SOP Instance UID) and ``<out>/train-rle.csv`` in
          Kaggle's form, one row per connected pneumothorax region, ``-1`` for negatives.

    The same arguments write the same pixels and ids.

    Args:
        out_dir: the output folder.
        n: number of phantoms.
        size: rows and columns of each image.
        fmt: one of ``PHANTOM_FORMATS``.
        seed: seed of the set.
        positive_fraction: share of images with a pneumothorax.
        difficulty: 0 (obvious) .. 1 (subtle).

    Returns:
        What was written, in order.

    Raises:
        ValueError: an unknown format, or arguments :func:`ptxseg.phantom.synthetic.make_dataset` rejects.

    Example:
        >>> [p.image_path.name for p in write_phantoms("out", 2, size=64, fmt="png")]
        ['phantom-0000.png', 'phantom-0001.png']
    """
    if fmt not in PHANTOM_FORMATS:
        raise ValueError(f"format must be one of {', '.join(PHANTOM_FORMATS)}, got {fmt!r}")
    out_dir = Path(out_dir)
    phantoms = make_dataset(n, size=size, seed=seed, positive_fraction=positive_fraction, difficulty=difficulty)
    spacing_mm = (_FIELD_OF_VIEW_MM / size, _FIELD_OF_VIEW_MM / size)
    image_dir = {"dicom": out_dir, "png": out_dir / "images", "siim": out_dir / "dicom"}[fmt]
    image_dir.mkdir(parents=True, exist_ok=True)
    if fmt != "siim":
        (out_dir / "masks").mkdir(exist_ok=True)
    written, rle_rows = [], []
    for index, phantom in enumerate(phantoms):
        # UIDs from the seed and index keep the set reproducible, as its pixels are.
        uid = generate_uid(entropy_srcs=["ptxseg phantom", str(seed), str(index)])
        dicom_options = {"sop_instance_uid": uid, "patient_number": index + 1}
        if fmt == "siim":
            pixels = quantize(phantom.image, _SIIM_BITS)
            image_path = write_dicom(pixels, image_dir / f"{uid}.dcm", spacing_mm, **dicom_options)
            rle_rows += [f"{uid}, {rle}" for rle in _region_rles(phantom)]
            written.append(WrittenPhantom(uid, image_path, out_dir / _RLE_CSV_NAME, phantom.side))
            continue
        image_id = f"phantom-{index:04d}"
        if fmt == "dicom":
            pixels = quantize(phantom.image, _DICOM_BITS)
            image_path = write_dicom(
                pixels, image_dir / f"{image_id}.dcm", spacing_mm, bits_stored=_DICOM_BITS, **dicom_options
            )
        else:
            image_path = write_png(quantize(phantom.image, 8), image_dir / f"{image_id}.png")
        mask_path = write_png(phantom.mask, out_dir / "masks" / f"{image_id}.png")
        written.append(WrittenPhantom(image_id, image_path, mask_path, phantom.side))
    if fmt == "siim":
        (out_dir / _RLE_CSV_NAME).write_text("".join(f"{row}\n" for row in ["ImageId, EncodedPixels", *rle_rows]))
    return written


def _region_rles(phantom: Phantom) -> list[str]:
    """One RLE per connected pneumothorax region, as Kaggle's CSV lists them; ``["-1"]`` for a negative."""
    regions, count = ndimage.label(phantom.mask)
    return [rle_encode(regions == region) for region in range(1, count + 1)] or [rle_encode(phantom.mask)]
