"""Predict many files: one mask per image at its original size, a CSV of findings, optionally a Kaggle RLE file.

Under ``torchrun`` every rank predicts its share of the files (``distributed.shard_indices``) and writes its masks;
after a barrier rank 0 merges the ranks' CSV parts in input order, so the CSVs are the same for any world size.
An unreadable file is a row with an ``error``, never the end of a run over an archive.
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import pydicom
import torch.distributed as dist

from ptxseg.compute import distributed
from ptxseg.datasets.siim import rle_encode
from ptxseg.datasets.specs import find_images
from ptxseg.image import CXRReadError
from ptxseg.inference.predictor import Prediction, Predictor
from ptxseg.inference.prefetch import prefetched_batches
from ptxseg.inference.seg import SEG_SUFFIX, save_seg, seg_of_prediction
from ptxseg.io.atomic import atomic_write
from ptxseg.io.masks import MASK_FORMATS, write_mask
from ptxseg.io.reader import image_id, read_cxr

__all__ = [
    "OUTPUT_FORMATS",
    "PREDICTION_COLUMNS",
    "PREDICTIONS_NAME",
    "collect_inputs",
    "predict_files",
    "predict_archive",
]

LOGGER = logging.getLogger(__name__)
PREDICTION_COLUMNS = ("image_id", "probability", "area_cm2", "side", "flag", "path", "error")
PREDICTIONS_NAME = "predictions.csv"
RLE_COLUMNS = ("ImageId", "EncodedPixels")
_PART_PREFIX = ".predictions.rank"
# "seg": a DICOM Segmentation of each DICOM input (``<id>.seg.dcm``), for a PACS to store beside its image.
OUTPUT_FORMATS = (*MASK_FORMATS, "seg")


def _inside(path: Path, folder: Path | None) -> bool:
    return folder is not None and path.resolve().is_relative_to(folder)


def _folder_images(folder: Path, excluded: Path | None) -> list[Path]:
    """Supported images in ``folder`` and below, skipping ``excluded`` before reading any name in it."""
    found: list[Path] = []
    for directory, subdirectories, _ in os.walk(folder):
        subdirectories[:] = sorted(name for name in subdirectories if not _inside(Path(directory, name), excluded))
        found += find_images(Path(directory)).values()
    return found


def collect_inputs(inputs: Sequence[str | os.PathLike], exclude: str | os.PathLike | None = None) -> list[Path]:
    """The files to predict, in a stable order: given files as they are, folders' supported images recursively.

    Args:
        inputs: files and folders.
        exclude: a folder whose files are never inputs (the output folder: a rerun must not predict its masks).

    Raises:
        ValueError: an input does not exist or lies in ``exclude``, or two files would share an output name (the
            same image id).

    Example:
        >>> collect_inputs(["scans/", "extra/1.2.840.99.dcm"], exclude="predictions/")  # doctest: +SKIP
        [PosixPath('scans/a.dcm'), PosixPath('scans/sub/b.png'), PosixPath('extra/1.2.840.99.dcm')]
    """
    excluded = Path(exclude).resolve() if exclude is not None else None
    by_id: dict[str, Path] = {}
    for given in map(Path, inputs):
        if _inside(given, excluded):
            raise ValueError(f"input {given} lies in the output folder {exclude}; choose another --out")
        if given.is_dir():
            found = _folder_images(given, excluded)
        elif given.is_file():
            found = [given]
        else:
            raise ValueError(f"input {given} is neither a file nor a folder; check the path")
        for path in found:
            identifier = image_id(path)
            if identifier in by_id and by_id[identifier].resolve() != path.resolve():
                raise ValueError(
                    f"{by_id[identifier]} and {path} would both write the mask {identifier}: predict them separately"
                )
            by_id.setdefault(identifier, path)
    return list(by_id.values())


def _row(path: Path, prediction: Prediction | None = None, error: str = "") -> dict[str, str]:
    row = dict.fromkeys(PREDICTION_COLUMNS, "")
    row.update(image_id=image_id(path), path=str(path), error=error)
    if prediction is not None:
        row.update(
            probability=f"{prediction.probability:.4f}",
            area_cm2=str(prediction.area_cm2),
            side=prediction.side,
            flag=str(prediction.flag).lower(),
        )
    return row


def predict_files(
    predictor: Predictor,
    paths: Sequence[Path],
    out_dir: Path,
    mask_format: str = "png",
    batch_size: int = 4,
    with_rle: bool = False,
    model_version: str = "",
    triage_qualified: bool = False,
) -> list[dict[str, str]]:
    """Predict ``paths`` in this process, write one mask per readable image to ``out_dir``, return the CSV rows.

    Rows hold ``PREDICTION_COLUMNS`` as text (plus ``rle`` when ``with_rle``), in the order of ``paths``; an
    unreadable file gets a row with only its id, path and ``error``. With ``mask_format="seg"`` each DICOM input
    gets a SEG recording ``model_version`` and, unless ``triage_qualified``, "not qualified for triage"; a
    non-DICOM input is a row with an error.

    Example:
        >>> rows = predict_files(predictor, [Path("chest.dcm")], Path("out"))  # doctest: +SKIP
        >>> rows[0]["side"], rows[0]["flag"]  # doctest: +SKIP
        ('left', 'true')
    """
    if mask_format not in OUTPUT_FORMATS:
        raise ValueError(f"mask format must be one of {', '.join(OUTPUT_FORMATS)}, got {mask_format!r}")
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {batch_size}")
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, str]] = []
    for batch, loaded in prefetched_batches(paths, batch_size, read_cxr):
        readable, images = [], []
        for path, image in zip(batch, loaded, strict=True):
            if isinstance(image, CXRReadError):
                LOGGER.warning("skipping %s", image)
                rows.append(_row(path, error=str(image)))
            else:
                readable.append(path)
                images.append(image)
        if not images:
            continue
        for path, image, prediction in zip(readable, images, predictor.predict_batch(images), strict=True):
            if mask_format != "seg":
                write_mask(prediction.mask, image, out_dir, image_id(path), mask_format)
            elif image.metadata["format"] != "DICOM":
                rows.append(_row(path, error="--format seg needs DICOM inputs: a SEG references its source image"))
                continue
            else:
                seg = seg_of_prediction(pydicom.dcmread(path), prediction, model_version, triage_qualified)
                save_seg(seg, out_dir / f"{image_id(path)}{SEG_SUFFIX}")
            row = _row(path, prediction)
            if with_rle:
                row["rle"] = rle_encode(prediction.mask)
            rows.append(row)
    order = {str(path): index for index, path in enumerate(paths)}
    return sorted(rows, key=lambda row: order[row["path"]])


def _write_csv(path: Path, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> Path:
    with atomic_write(path) as temporary, temporary.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(columns)
        writer.writerows(rows)
    return path


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as stream:
        return list(csv.DictReader(stream))


def _gather_rows(rows: list[dict[str, str]], paths: Sequence[Path], out_dir: Path, columns: Sequence[str]) -> list:
    """All ranks' rows on rank 0 (in input order), via CSV parts in ``out_dir``; other ranks get their own rows."""
    if not distributed.is_distributed():
        return rows
    part = out_dir / f"{_PART_PREFIX}{distributed.rank()}.csv"
    _write_csv(part, columns, [[row[column] for column in columns] for row in rows])
    dist.barrier()
    if distributed.rank() != 0:
        return rows
    parts = [out_dir / f"{_PART_PREFIX}{rank}.csv" for rank in range(distributed.world_size())]
    merged = [row for part_path in parts for row in _read_csv(part_path)]
    for part_path in parts:
        part_path.unlink()
    order = {str(path): index for index, path in enumerate(paths)}
    return sorted(merged, key=lambda row: order[row["path"]])


def predict_archive(
    predictor: Predictor,
    paths: Sequence[Path],
    out_dir: str | os.PathLike,
    mask_format: str = "png",
    batch_size: int = 4,
    rle_path: str | os.PathLike | None = None,
    model_version: str = "",
    triage_qualified: bool = False,
) -> list[dict[str, str]]:
    """Predict all ``paths`` (this rank's share under ``torchrun``); rank 0 writes ``predictions.csv`` and the RLE file.

    Args:
        predictor: the loaded model.
        paths: every input file, the same list on every rank (see :func:`collect_inputs`).
        out_dir: folder for the masks and ``predictions.csv``.
        mask_format: ``png`` (0/255), ``nrrd`` (on the image's geometry) or ``seg`` (DICOM Segmentation).
        batch_size: images per forward pass.
        rle_path: where to write a Kaggle submission CSV (``ImageId,EncodedPixels``; ``-1`` when empty), or None.
        model_version: recorded in each SEG (``seg`` format).
        triage_qualified: whether the model is qualified for triage (``seg`` format; see ``predict_files``).

    Returns:
        On rank 0 all rows in input order; on other ranks their own.

    Example:
        >>> predict_archive(predictor, collect_inputs(["scans"]), "out", rle_path="submission.csv")  # doctest: +SKIP
    """
    out_dir = Path(out_dir)
    share = [paths[index] for index in distributed.shard_indices(len(paths))]
    rows = predict_files(
        predictor,
        share,
        out_dir,
        mask_format,
        batch_size,
        with_rle=rle_path is not None,
        model_version=model_version,
        triage_qualified=triage_qualified,
    )
    columns = (*PREDICTION_COLUMNS, "rle") if rle_path is not None else PREDICTION_COLUMNS
    rows = _gather_rows(rows, paths, out_dir, columns)
    if distributed.rank() != 0:
        return rows
    _write_csv(out_dir / PREDICTIONS_NAME, PREDICTION_COLUMNS, [[row[c] for c in PREDICTION_COLUMNS] for row in rows])
    if rle_path is not None:
        predicted = [[row["image_id"], row["rle"]] for row in rows if not row["error"]]
        _write_csv(Path(rle_path), RLE_COLUMNS, predicted)
    return rows
