"""Export a MONAI Label studies folder's labelled images, de-identified, as a data set to share or archive.

``ptxseg train`` reads the export unchanged, as SIIM-ACR (``--data siim:OUT/dicom,OUT/train-rle.csv``) or as
images and masks (``--data folder:OUT/dicom,OUT/labels``)::

    OUT/dicom/<new SOP Instance UID>.dcm  each labelled DICOM, de-identified (ptxseg.datasets.deidentify)
    OUT/labels/<new UID>.nrrd             its final label, on the de-identified image's own grid
    OUT/train-rle.csv                     the labels as SIIM RLE (Kaggle's ``ImageId, EncodedPixels``)
    OUT/manifest.csv                      one row an image: nothing that maps back to the patient (its
                                          ``patient`` column is the export's pseudonym, to split by patient)

Pixels are not changed, so an image whose header says text is burned into them (Burned In Annotation ``YES``) is
refused, and so is one whose header does not say, unless the caller states that the source has no burned-in text;
refused images are listed with their reason in :attr:`DatasetExport.skipped`, the others are exported.

The key file (old id, Patient ID and UIDs -> new) is written only when asked, never inside the export, and
readable by its owner only.
"""

from __future__ import annotations

import csv
import io
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import pydicom

from ptxseg.datasets.deidentify import BURNED_IN_UNKNOWN, UidMap, burned_in_annotation, deidentify_dataset
from ptxseg.datasets.siim import rle_encode
from ptxseg.datasets.specs import parse_data_spec
from ptxseg.image import CXRImage
from ptxseg.io.atomic import write_secret_atomically, write_text_atomically
from ptxseg.io.formats import DICOM_SUFFIXES, known_suffix
from ptxseg.io.labels import read_label, write_label
from ptxseg.io.reader import read_cxr

__all__ = [
    "DICOM_FOLDER",
    "LABEL_FOLDER",
    "MANIFEST_NAME",
    "RLE_CSV_NAME",
    "MANIFEST_COLUMNS",
    "NOT_DICOM",
    "BURNED_IN_TEXT",
    "BURNED_IN_NOT_STATED",
    "DatasetExport",
    "export_dataset",
]

LOGGER = logging.getLogger(__name__)
DICOM_FOLDER = "dicom"
# Not inside dicom/: the SIIM reader searches its folder recursively and would take the labels for images.
LABEL_FOLDER = "labels"
MANIFEST_NAME = "manifest.csv"
RLE_CSV_NAME = "train-rle.csv"
MANIFEST_COLUMNS = (
    "image_id",
    "patient",
    "label",
    "pneumothorax",
    "area_px",
    "rows",
    "columns",
    "modality",
    "view_position",
    "burned_in_annotation",
)
# The reasons in DatasetExport.skipped.
NOT_DICOM = "not DICOM"
BURNED_IN_TEXT = "Burned In Annotation is YES: text is burned into the pixels"
BURNED_IN_NOT_STATED = (
    "Burned In Annotation is not stated: the pixels may hold burned-in text (if the source has none, say so with "
    "--assume-no-burned-in)"
)


@dataclass
class DatasetExport:
    """What :func:`export_dataset` wrote.

    Attributes:
        exported: new image ids (file names in ``dicom/`` and ``labels/``), in order.
        skipped: ``(old id, reason)`` of labelled images left out: ``NOT_DICOM``, ``BURNED_IN_TEXT`` or
            ``BURNED_IN_NOT_STATED``.
        key_file: the old -> new key, when one was asked for.
    """

    exported: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    key_file: Path | None = None


def export_dataset(
    studies: str | os.PathLike,
    out: str | os.PathLike,
    *,
    key_file: str | os.PathLike | None = None,
    assume_no_burned_in: bool = False,
) -> DatasetExport:
    """De-identify every image of ``studies`` that has a final label and write it, its label and the CSVs to ``out``.

    Only DICOM images are exported: a PNG's or NIfTI's file name and text fields are free-form and cannot be
    de-identified by a profile, so they are skipped with a warning.

    Args:
        studies: a MONAI Label studies folder (images + ``labels/final``), e.g. from ``ptxseg convert-siim``.
        out: a new or empty folder.
        key_file: where to write the old -> new id and UID key (CSV, mode 0600); None writes none. It must lie
            outside ``out``.
        assume_no_burned_in: the caller states that the source has no burned-in text, so images whose Burned In
            Annotation is absent are exported (``YES`` is refused all the same).

    Raises:
        ValueError: no labelled images, ``out`` not empty, the key file inside ``out``, or no DICOM among them
            that may be exported.

    Example:
        >>> export = export_dataset("studies", "export")  # doctest: +SKIP
        >>> len(export.exported), export.key_file  # doctest: +SKIP
        (7, None)
    """
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"export folder {out} is not empty; pass a new or empty folder")
    if key_file is not None and Path(key_file).resolve().is_relative_to(out.resolve()):
        raise ValueError(f"key file {key_file} lies inside the export {out}; keep it apart (it re-identifies)")
    (out / DICOM_FOLDER).mkdir(parents=True, exist_ok=True)
    (out / LABEL_FOLDER).mkdir(exist_ok=True)
    uids, result, rows = UidMap(), DatasetExport(), []
    old_ids: dict[str, str] = {}
    for item in parse_data_spec(f"monailabel:{studies}"):
        if known_suffix(item.image_path.name) not in DICOM_SUFFIXES:
            LOGGER.warning(
                "skipped %s: only DICOM can be de-identified (file names and text fields are free-form)",
                item.image_path.name,
            )
            result.skipped.append((item.image_id, NOT_DICOM))
            continue
        # read_cxr first: a damaged file gets its clear refusal before pydicom's own parser errors could surface.
        source = read_cxr(item.image_path)
        dataset = pydicom.dcmread(item.image_path)
        refusal = _burned_in_refusal(burned_in_annotation(dataset), assume_no_burned_in)
        if refusal:
            result.skipped.append((item.image_id, refusal))
            continue
        row = _export_one(dataset, source, Path(item.mask), out, uids)
        old_ids[row["image_id"]] = item.image_id
        result.exported.append(row["image_id"])
        rows.append(row)
    if not rows:
        reasons = sorted({reason for _, reason in result.skipped})
        raise ValueError(
            f"no labelled DICOM in {studies} may be exported (skipped: {'; '.join(reasons) or 'none'}); the export "
            "needs DICOM images with labels in labels/final whose pixels hold no burned-in text"
        )
    write_text_atomically(
        out / MANIFEST_NAME, _csv(MANIFEST_COLUMNS, [[row[c] for c in MANIFEST_COLUMNS] for row in rows])
    )
    rle_rows = [[row["image_id"], row["rle"]] for row in rows]
    # Kaggle's header, space included, so the file reads like the original train-rle.csv.
    write_text_atomically(out / RLE_CSV_NAME, _csv(("ImageId", " EncodedPixels"), rle_rows))
    if key_file is not None:
        key_rows = [["image_id", old, new] for new, old in old_ids.items()]
        key_rows += [["patient", old, new] for old, new in uids.patients.items()]
        key_rows += [["uid", old, new] for old, new in uids.mapping.items()]
        result.key_file = write_secret_atomically(key_file, _csv(("kind", "old", "new"), key_rows))
    return result


def _burned_in_refusal(burned_in: str, assume_no_burned_in: bool) -> str | None:
    """Why an image with this Burned In Annotation is not exported, or None."""
    if burned_in == "YES":
        return BURNED_IN_TEXT
    if burned_in == BURNED_IN_UNKNOWN and not assume_no_burned_in:
        return BURNED_IN_NOT_STATED
    return None


def _export_one(dataset: pydicom.Dataset, source: CXRImage, label_path: Path, out: Path, uids: UidMap) -> dict:
    mask = read_label(label_path, like=source) != 0
    burned_in = deidentify_dataset(dataset, uids)
    new_id = str(dataset.SOPInstanceUID)
    new_path = out / DICOM_FOLDER / f"{new_id}.dcm"
    dataset.save_as(new_path, write_like_original=False)
    image = read_cxr(new_path)
    write_label(mask, like=image, path=out / LABEL_FOLDER / f"{new_id}.nrrd")
    return {
        "image_id": new_id,
        "patient": str(dataset.get("PatientID", "")),
        "label": f"{LABEL_FOLDER}/{new_id}.nrrd",
        "pneumothorax": int(mask.any()),
        "area_px": int(mask.sum()),
        "rows": image.shape[0],
        "columns": image.shape[1],
        "modality": image.metadata.get("modality", ""),
        "view_position": image.metadata.get("view_position", ""),
        "burned_in_annotation": burned_in,
        "rle": rle_encode(mask),
    }


def _csv(header, rows) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()
