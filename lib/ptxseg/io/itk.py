"""ITK's view of a file: its header, its geometry as 3D Slicer will place it, and NIfTI/NRRD volumes read whole.

Every reader takes its geometry from here, because 3D Slicer reads files with ITK and a label must overlay there
without resampling; ``itk_label_image`` writes that geometry back, so reading and writing share one convention.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ptxseg.image import CXRImage, Geometry
from ptxseg.io.formats import known_suffix
from ptxseg.io.guards import check_pixel_count, percentile_window, read_error

__all__ = [
    "geometry_from_reader",
    "itk_geometry_matching",
    "itk_label_image",
    "itk_reader",
    "itk_reason",
    "read_itk_volume",
]


def read_itk_volume(path: Path, max_pixels: int) -> CXRImage:
    """Read a 2-D NIfTI/NRRD image or single slice with the percentile window; refuse grids above ``max_pixels``.

    Raises:
        CXRReadError: unreadable header or data, several slices, several components, or too large.

    Example:
        >>> read_itk_volume(Path("chest.nii.gz"), max_pixels=100_000_000).metadata["format"]  # doctest: +SKIP
        'NIfTI'
    """
    reader = itk_reader(path)
    size = reader.GetSize()
    if len(size) == 3 and size[2] != 1:
        raise read_error(path, f"volume of size {size} has {size[2]} slices; expected a 2-D image or a single slice")
    if reader.GetNumberOfComponents() != 1:
        raise read_error(path, f"{reader.GetNumberOfComponents()} components per pixel; expected a greyscale image")
    check_pixel_count(path, size[1], size[0], max_pixels)
    try:
        values = sitk.GetArrayFromImage(reader.Execute()).reshape(size[1], size[0])
    except RuntimeError as exc:
        raise read_error(path, f"pixel data cannot be read (truncated or corrupt?): {itk_reason(exc)}") from exc
    pixels, windowing, warnings = percentile_window(values)
    geometry = geometry_from_reader(reader)
    metadata = {
        "path": str(path),
        "format": "NIfTI" if known_suffix(path.name).startswith(".nii") else "NRRD",
        "original_dtype": str(values.dtype),
        "windowing": windowing,
    }
    return CXRImage(pixels.astype(np.float32), (geometry.spacing[1], geometry.spacing[0]), geometry, metadata, warnings)


def itk_reader(path: Path) -> sitk.ImageFileReader:
    """An ITK reader whose header has been read (pixels not yet), for images of 2 or 3 dimensions.

    Raises:
        CXRReadError: ITK cannot read the header, or the image has fewer than 2 or more than 3 dimensions.

    Example:
        >>> itk_reader(Path("chest.nrrd")).GetSize()  # doctest: +SKIP
        (1024, 1024)
    """
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError as exc:
        raise read_error(path, f"ITK (3D Slicer's reader) cannot read its header: {itk_reason(exc)}") from exc
    if not 2 <= reader.GetDimension() <= 3:  # a 1-D header (found by fuzzing) would fail later on a missing axis
        raise read_error(path, f"{reader.GetDimension()}-D image of size {reader.GetSize()}; expected a 2-D image")
    return reader


def itk_reason(exc: RuntimeError) -> str:
    """The last ``ERROR:`` line of an ITK exception, without ITK's source location and stack.

    Example:
        >>> itk_reason(RuntimeError("itk::ERROR: ImageIO(0x1): Could not open file"))
        'ImageIO(0x1): Could not open file'
    """
    return str(exc).strip().splitlines()[-1].split("ERROR:")[-1].strip()


def itk_geometry_matching(path: Path, rows: int, columns: int) -> Geometry:
    """ITK's geometry for ``path``, after checking that ITK sees the same pixel grid as the decoder did.

    Raises:
        CXRReadError: ITK cannot read the header, or reads a different grid (the file is ambiguous).

    Example:
        >>> itk_geometry_matching(Path("chest.dcm"), rows=1024, columns=1024).dimension  # doctest: +SKIP
        3
    """
    reader = itk_reader(path)
    size = reader.GetSize()
    if size[:2] != (columns, rows) or any(extent != 1 for extent in size[2:]):
        raise read_error(
            path, f"ITK reads a grid of size {size}, the decoder {columns} x {rows}; the file is ambiguous"
        )
    return geometry_from_reader(reader)


def geometry_from_reader(reader: sitk.ImageFileReader) -> Geometry:
    """The geometry a full ITK read would give, from the header alone, padded to 3-D.

    Example:
        >>> geometry_from_reader(itk_reader(Path("chest.png"))) == Geometry(dimension=2)  # doctest: +SKIP
        True
    """
    dimension = reader.GetDimension()
    spacing = np.array(reader.GetSpacing())
    direction = np.array(reader.GetDirection()).reshape(dimension, dimension)
    # ITK's full read turns a negative spacing positive by flipping that axis' direction; the header read does not.
    flipped = spacing < 0
    spacing[flipped] *= -1
    direction[:, flipped] *= -1
    padded_direction = np.eye(3)
    padded_direction[:dimension, :dimension] = direction
    padding = 3 - dimension
    return Geometry(
        origin=tuple(float(value) for value in (*reader.GetOrigin(), *(0.0,) * padding)),
        spacing=tuple(float(value) for value in (*spacing, *(1.0,) * padding)),
        direction=tuple(float(value) for value in padded_direction.ravel()),
        dimension=dimension,
    )


def itk_label_image(labels: np.ndarray, geometry: Geometry) -> sitk.Image:
    """An ITK image of ``labels`` (rows x columns) placed on ``geometry``, in the file's own dimension.

    Example:
        >>> itk_label_image(np.zeros((4, 5), np.uint8), Geometry(dimension=3)).GetSize()
        (5, 4, 1)
    """
    dimension = geometry.dimension
    image = sitk.GetImageFromArray(labels if dimension == 2 else labels[np.newaxis])
    image.SetOrigin(geometry.origin[:dimension])
    image.SetSpacing(geometry.spacing[:dimension])
    image.SetDirection(tuple(np.array(geometry.direction).reshape(3, 3)[:dimension, :dimension].ravel()))
    return image
