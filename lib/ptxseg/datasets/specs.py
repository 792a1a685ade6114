"""``--data SPEC`` for the command line: every labelled source as a list of ``LabelledImage``.

Specs:
    ``siim:DICOM_DIR,RLE_CSV``        SIIM-ACR: DICOMs at any depth + Kaggle ``train-rle.csv`` (decoded lazily).
    ``ptx498:ROOT``                   PTX-498: ``Site*/N.1.img.png`` + ``N.2.mask.png``.
    ``folder:IMAGES_DIR,MASKS_DIR``   any images + masks of the same id (PNG 0/255, NRRD, NIfTI...).
    ``monailabel:STUDIES_DIR``        a MONAI Label studies folder: images + ``labels/final``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from ptxseg.datasets.labelled import LabelledImage
from ptxseg.datasets.ptx498 import find_ptx498_pairs
from ptxseg.datasets.siim import RleMask, read_siim_rle_csv
from ptxseg.io.reader import LABEL_SUFFIXES, SUPPORTED_SUFFIXES, image_id

__all__ = ["DATA_KINDS", "parse_data_spec", "load_data_specs", "find_images"]

LOGGER = logging.getLogger(__name__)
DATA_KINDS = ("siim", "ptx498", "folder", "monailabel")


def find_images(folder: Path, recursive: bool = False) -> dict[str, Path]:
    """Image files under ``folder`` by id (known suffixes only); two files with one id are an error."""
    if not folder.is_dir():
        raise ValueError(f"folder {folder} does not exist")
    candidates = folder.rglob("*") if recursive else folder.iterdir()
    found: dict[str, Path] = {}
    for path in sorted(p for p in candidates if p.is_file() and not p.name.startswith(".")):
        identifier = image_id(path)
        if identifier == path.name or path.name[len(identifier) :].lower() not in SUPPORTED_SUFFIXES:
            continue
        if identifier in found:
            raise ValueError(f"two images share the id {identifier}: {found[identifier]} and {path}; keep one")
        found[identifier] = path
    return found


def _labels_by_id(folder: Path) -> dict[str, Path]:
    labels = {}
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            suffix = path.name[len(image_id(path)) :].lower()
            if suffix in LABEL_SUFFIXES or suffix in (".jpg", ".jpeg", ".bmp"):
                labels[image_id(path)] = path
    return labels


def _siim(arguments: list[str]) -> list[LabelledImage]:
    dicom_dir, rle_csv = (Path(argument) for argument in arguments)
    rows = read_siim_rle_csv(rle_csv)
    found = find_images(dicom_dir, recursive=True)
    dicoms = {key: path for key, path in found.items() if path.suffix.lower() == ".dcm"}
    missing = sorted(set(dicoms) - set(rows))
    if missing:
        LOGGER.warning("%d SIIM DICOMs have no row in %s and are left out (e.g. %s)", len(missing), rle_csv, missing[0])
    return [LabelledImage(key, path, RleMask(tuple(rows[key]))) for key, path in dicoms.items() if key in rows]


def _ptx498(arguments: list[str]) -> list[LabelledImage]:
    return [LabelledImage(s.image_id, s.image_path, s.mask_path) for s in find_ptx498_pairs(arguments[0])]


def _folder(arguments: list[str]) -> list[LabelledImage]:
    images_dir, masks_dir = (Path(argument) for argument in arguments)
    masks = _labels_by_id(masks_dir)
    unmatched = sorted(set(find_images(images_dir)) - set(masks))
    if unmatched:
        raise ValueError(f"{len(unmatched)} images in {images_dir} have no mask in {masks_dir} (e.g. {unmatched[0]})")
    return [LabelledImage(key, path, masks[key]) for key, path in find_images(images_dir).items()]


def _monailabel(arguments: list[str]) -> list[LabelledImage]:
    studies = Path(arguments[0])
    labels = _labels_by_id(studies / "labels" / "final")
    images = find_images(studies)
    return [LabelledImage(key, path, labels[key]) for key, path in images.items() if key in labels]


_PARSERS = {"siim": (_siim, 2), "ptx498": (_ptx498, 1), "folder": (_folder, 2), "monailabel": (_monailabel, 1)}


def parse_data_spec(spec: str) -> list[LabelledImage]:
    """The labelled images of one ``KIND:ARG[,ARG]`` spec (see the module docstring).

    Example:
        >>> items = parse_data_spec("siim:siim/dicom-images-train,siim/train-rle.csv")  # doctest: +SKIP
    """
    kind, separator, rest = spec.partition(":")
    if not separator or kind not in _PARSERS:
        raise ValueError(f"data spec {spec!r} must start with one of {', '.join(k + ':' for k in DATA_KINDS)}")
    parser, count = _PARSERS[kind]
    arguments = [part for part in rest.split(",") if part]
    if len(arguments) != count:
        raise ValueError(f"data spec {kind}: takes {count} comma-separated path(s), got {spec!r}")
    items = parser(arguments)
    if not items:
        raise ValueError(f"data spec {spec!r} holds no labelled images")
    return items


def load_data_specs(specs: Sequence[str]) -> list[LabelledImage]:
    """All images of several specs; an id present in two sources is an error (it would leak across splits)."""
    items: list[LabelledImage] = []
    seen: dict[str, str] = {}
    for spec in specs:
        for item in parse_data_spec(spec):
            if item.image_id in seen:
                raise ValueError(f"image id {item.image_id} appears in both {seen[item.image_id]!r} and {spec!r}")
            seen[item.image_id] = spec
            items.append(item)
    return items
