"""Turn the SIIM-ACR download (DICOMs + ``train-rle.csv``) into a MONAI Label studies folder.

The studies folder holds the DICOMs themselves (``<out>/<uid>.dcm``) and one label per image in
``<out>/labels/final/<uid>.nrrd``, written on the image's own ITK grid so MONAI Label and 3D Slicer overlay it
without resampling.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ptxseg.datasets.siim import read_siim_rle_csv, rle_decode
from ptxseg.io.labels import write_label
from ptxseg.io.reader import image_id, read_cxr

__all__ = ["LABEL_FOLDER", "SiimConversion", "convert_siim"]

LABEL_FOLDER = Path("labels") / "final"
_LABEL_SUFFIX = ".nrrd"
_log = logging.getLogger(__name__)


@dataclass
class SiimConversion:
    """What :func:`convert_siim` did.

    Attributes:
        converted: ids of the images copied with their labels, in order.
        positive: how many of them have a pneumothorax.
        skipped: ids of DICOMs without a row in the CSV (not copied).
    """

    converted: list[str] = field(default_factory=list)
    positive: int = 0
    skipped: list[str] = field(default_factory=list)


def convert_siim(
    dicom_dir: str | os.PathLike, rle_csv: str | os.PathLike, out_dir: str | os.PathLike
) -> SiimConversion:
    """Copy every SIIM DICOM that the CSV labels into ``out_dir`` and write its label beside it.

    DICOMs are found recursively (the Kaggle download nests them in study/series folders) and keep their file
    names, the SOP Instance UIDs. Each image's RLE rows are decoded on that image's own pixel grid and united.
    An image whose rows are all ``-1`` gets an all-zero label; a DICOM without any row is skipped with a warning.

    Args:
        dicom_dir: folder holding ``*.dcm`` files, at any depth.
        rle_csv: Kaggle's ``train-rle.csv``.
        out_dir: the studies folder to fill (created if missing).

    Returns:
        The ids converted and skipped.

    Raises:
        ValueError: no DICOMs under ``dicom_dir``, two DICOMs with the same id, or a bad CSV/RLE (the message names
            the image).
        ptxseg.image.CXRReadError: a DICOM cannot be read.

    Example:
        >>> convert_siim("siim/dicom-images-train", "siim/train-rle.csv", "studies").converted[:1]  # doctest: +SKIP
        ['1.2.276.0.7230010.3.1.4.8323329.1000.1517875165.878027']
    """
    dicom_dir, out_dir = Path(dicom_dir), Path(out_dir)
    dicoms = _dicoms_by_id(dicom_dir)
    rles = read_siim_rle_csv(rle_csv)
    label_dir = out_dir / LABEL_FOLDER
    label_dir.mkdir(parents=True, exist_ok=True)
    result = SiimConversion()
    for uid, path in dicoms.items():
        if uid not in rles:
            _log.warning("skipped %s: no row for it in %s", path.name, rle_csv)
            result.skipped.append(uid)
            continue
        image = read_cxr(path)
        mask = np.zeros(image.shape, dtype=bool)
        for rle in rles[uid]:
            try:
                mask |= rle_decode(rle, *image.shape)
            except ValueError as exc:
                raise ValueError(f"{rle_csv}: image {uid} ({image.shape[0]} x {image.shape[1]}): {exc}") from exc
        shutil.copyfile(path, out_dir / path.name)
        write_label(mask, like=image, path=label_dir / f"{uid}{_LABEL_SUFFIX}")
        result.converted.append(uid)
        result.positive += bool(mask.any())
    return result


def _dicoms_by_id(dicom_dir: Path) -> dict[str, Path]:
    if not dicom_dir.is_dir():
        raise ValueError(f"DICOM folder {dicom_dir} does not exist; pass the folder holding the SIIM *.dcm files")
    dicoms: dict[str, Path] = {}
    # Any case of the suffix: archives copied through other systems often arrive as .DCM.
    for path in sorted(p for p in dicom_dir.rglob("*") if p.suffix.lower() == ".dcm" and p.is_file()):
        uid = image_id(path)
        if uid in dicoms:
            raise ValueError(f"two DICOMs share the id {uid}: {dicoms[uid]} and {path}; keep one of them")
        dicoms[uid] = path
    if not dicoms:
        raise ValueError(f"no *.dcm files under {dicom_dir}; pass the folder holding the SIIM DICOMs")
    return dicoms
