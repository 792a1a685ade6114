"""Label files <-> numpy on the image's own grid: no flips, no transposes.

Arrays are (rows, columns) with row 0 at the top as the file stores it (ITK's x = column); the grid comes
along as a ``Grid`` to compare with the image's. SimpleITK ships with 3D Slicer, so this runs there too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from .grid import Grid

__all__ = ["Grid", "read_grid", "read_label", "write_label"]


def read_grid(path: str | Path) -> Grid:
    """The grid of any image file ITK reads (DICOM, PNG, NRRD, NIfTI), from its header only.

    Example:
        >>> read_grid("image.dcm").size  # doctest: +SKIP
        (1024, 1024, 1)
    """
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    reader.ReadImageInformation()
    return Grid.from_itk(reader)


def read_label(path: str | Path) -> tuple[np.ndarray, Grid]:
    """A label file as a (rows, columns) uint8 array exactly as stored, and its grid.

    Raises:
        ValueError: the file is 3-D with more than one slice, or has more than one component per pixel.

    Example:
        >>> mask, grid = read_label("label.nrrd")  # doctest: +SKIP
        >>> mask.shape == (grid.size[1], grid.size[0])  # doctest: +SKIP
        True
    """
    image = sitk.ReadImage(str(path))
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise ValueError(f"{path}: a label needs one value per pixel, found {image.GetNumberOfComponentsPerPixel()}")
    array = sitk.GetArrayFromImage(image)
    if array.ndim == 3:
        if array.shape[0] != 1:
            raise ValueError(f"{path}: a chest X-ray label has one slice, found {array.shape[0]}")
        array = array[0]
    return array.astype(np.uint8), Grid.from_itk(image)


def write_label(mask: np.ndarray, grid: Grid, path: str | Path) -> Path:
    """Write a (rows, columns) mask as a uint8 label file (type from the suffix) on ``grid``.

    The file has the grid's dimension: 2-D for a PNG's grid, 3-D with one slice for a DICOM's, like the image.

    Raises:
        ValueError: the mask's shape is not the grid's (rows, columns).

    Example:
        >>> write_label(np.zeros((3, 4)), read_grid("image.nrrd"), "label.nrrd")  # doctest: +SKIP
        PosixPath('label.nrrd')
    """
    mask = np.asarray(mask)
    columns, rows, slices = grid.size
    if mask.shape != (rows, columns):
        raise ValueError(f"mask shape {mask.shape} is not the grid's (rows, columns) = {(rows, columns)}")
    array = mask.astype(np.uint8) if grid.dimension == 2 else mask.astype(np.uint8)[np.newaxis]
    image = sitk.GetImageFromArray(array)
    grid.to_itk(image)
    sitk.WriteImage(image, str(path), useCompression=True)
    return Path(path)
