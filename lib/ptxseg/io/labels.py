"""Labels on an image's own pixel grid: written atomically (NRRD/NIfTI/PNG) and read back checked against the image."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ptxseg.image import CXRImage, Geometry
from ptxseg.io import reader as cxr_reader
from ptxseg.io.atomic import atomic_write
from ptxseg.io.formats import (
    LABEL_SUFFIXES,
    known_suffix,
)
from ptxseg.io.guards import check_pixel_count, read_error
from ptxseg.io.itk import geometry_from_reader, itk_label_image, itk_reader, itk_reason
from ptxseg.io.reader import image_id

__all__ = ["write_label", "read_label"]


def write_label(mask: np.ndarray, like: CXRImage, path: str | os.PathLike) -> Path:
    """Write a uint8 label on exactly ``like``'s ITK grid (dimension, origin, spacing, direction), atomically.

    The file is written beside ``path`` under a temporary name and then renamed over it, so a crash mid-write
    leaves any previous file intact.

    Args:
        mask: 2-D label of shape ``like.shape``: bool, integers 0..255, or floats holding such integers.
        like: the image the label belongs to, as returned by ``read_cxr``.
        path: target file; the suffix picks the format: one of ``LABEL_SUFFIXES``. PNG stores no geometry, so it
            is accepted only for images whose ITK geometry is the 2-D default (PNG/JPEG/BMP without resolution).

    Returns:
        The written path.

    Raises:
        ValueError: wrong shape, non-integer or out-of-range values, unsupported suffix, or PNG for an image
            whose geometry PNG cannot store.
        FileNotFoundError: the target folder does not exist.
        OSError: no room to write it (``ptxseg.io.atomic.storage_full`` is true); any previous file is intact.

    Example:
        >>> from ptxseg.io.writers import write_dicom
        >>> image = cxr_reader.read_cxr(write_dicom(np.eye(64, dtype=np.uint8) * 255, "chest.dcm"))
        >>> write_label(image.pixels > 0.5, like=image, path="chest.label.nrrd")
        PosixPath('chest.label.nrrd')
    """
    path = Path(path)
    labels = _label_values(mask)
    if labels.shape != like.shape:
        raise ValueError(
            f"mask shape {labels.shape} differs from the image shape {like.shape}; pass a mask on the image's grid"
        )
    suffix = known_suffix(path.name)
    if suffix not in LABEL_SUFFIXES:
        raise ValueError(f"cannot write a label to {path.name}: use one of the suffixes {', '.join(LABEL_SUFFIXES)}")
    if suffix == ".png" and like.geometry != Geometry(dimension=2):
        raise ValueError(
            f"PNG cannot store this image's geometry {like.geometry}; write {image_id(path)}.nrrd or .nii.gz instead"
        )
    if not path.parent.is_dir():
        raise FileNotFoundError(f"folder {path.parent} does not exist; create it before writing {path.name}")
    with atomic_write(path) as temporary:
        sitk.WriteImage(itk_label_image(labels, like.geometry), str(temporary), useCompression=True)
        _check_written_whole(temporary, labels, path)
    return path


def _check_written_whole(written: Path, labels: np.ndarray, path: Path) -> None:
    """Read the label back before it replaces anything: ITK's writers ignore a short write (measured: a full
    tmpfs left a truncated NRRD and no error), which would replace a good label with half of one."""
    try:
        values = sitk.GetArrayFromImage(sitk.ReadImage(str(written)))
        whole = values.size == labels.size and np.array_equal(values.reshape(labels.shape), labels)
    except RuntimeError:
        whole = False
    if not whole:
        raise OSError(
            errno.ENOSPC,
            f"{path.name} was not written whole: the disk is full, or a quota or file size limit was reached; "
            "free space and save again",
        )


def read_label(path: str | os.PathLike, like: CXRImage | None = None) -> np.ndarray:
    """Read a label file as a 2-D uint8 array (rows x columns as displayed), optionally checked against its image.

    Args:
        path: a label file in one of ``LABEL_SUFFIXES`` (a 0/255 PNG mask reads as 0/255: test ``!= 0``).
        like: the image the label belongs to; when given, the label must have exactly its grid (shape, origin,
            spacing, direction), else ``ValueError`` says what differs.

    Raises:
        CXRReadError: the file cannot be read as a 2-D label (or a single-slice volume).
        ValueError: the label does not lie on ``like``'s grid, or holds values outside 0..255.

    Example:
        >>> from ptxseg.io.writers import write_png
        >>> image = cxr_reader.read_cxr(write_png(np.eye(64, dtype=np.uint8) * 255, "chest.png"))
        >>> path = write_label(image.pixels > 0.5, like=image, path="chest.label.nrrd")
        >>> read_label(path, like=image).sum()
        64
    """
    path = Path(path)
    if not path.is_file():
        raise read_error(path, "file not found")
    reader = itk_reader(path)
    size = reader.GetSize()
    check_pixel_count(path, size[1], size[0], cxr_reader.MAX_PIXELS)
    try:
        label = reader.Execute()
    except RuntimeError as exc:
        raise read_error(path, itk_reason(exc)) from exc
    if label.GetNumberOfComponentsPerPixel() != 1:
        raise read_error(path, "a label must have one value per pixel, not colour")
    values = sitk.GetArrayFromImage(label)
    if values.ndim == 3 and values.shape[0] == 1:
        values = values[0]
    if values.ndim != 2:
        raise read_error(path, f"expected a 2-D label or a single slice, got an array of shape {values.shape}")
    if like is not None:
        geometry = geometry_from_reader(reader)
        if values.shape != like.shape:
            raise ValueError(f"label {path.name} has shape {values.shape}, its image has {like.shape}")
        if not _same_grid(geometry, like.geometry):
            raise ValueError(f"label {path.name} lies on {geometry}, not on its image's grid {like.geometry}")
    return _label_values(values)


def _label_values(mask: np.ndarray) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask must be 2-D (rows, columns), got shape {mask.shape}")
    if mask.dtype == bool:
        return mask.astype(np.uint8)
    if not (np.issubdtype(mask.dtype, np.integer) or np.issubdtype(mask.dtype, np.floating)):
        raise ValueError(f"mask dtype {mask.dtype} is not a label type; pass bool or integer labels 0..255")
    if mask.size and (not np.all(np.isfinite(mask)) or np.any(mask != np.round(mask))):
        raise ValueError("mask holds non-integer values; threshold probabilities first (e.g. mask > 0.5)")
    if mask.size and (mask.min() < 0 or mask.max() > 255):
        raise ValueError(f"mask values span {mask.min()}..{mask.max()}; labels must be integers 0..255")
    return mask.astype(np.uint8)


def _same_grid(a: Geometry, b: Geometry, tolerance: float = 1e-4) -> bool:
    """Same physical grid (a 2-D and a single-slice 3-D file of one image count as the same)."""
    pairs = (
        (a.origin[:2], b.origin[:2]),
        (a.spacing[:2], b.spacing[:2]),
        (a.direction[:2] + a.direction[3:5], b.direction[:2] + b.direction[3:5]),
    )
    return all(np.allclose(x, y, atol=tolerance) for x, y in pairs)
