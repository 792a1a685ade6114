"""Read chest X-rays (DICOM, PNG/JPEG/BMP/TIFF, NIfTI, NRRD) into CXRImage; write labels on exactly their grid.

Pixels come from the format's own decoder (pydicom, Pillow, SimpleITK); the geometry always comes from ITK's
reading of the same file, because 3D Slicer reads it with ITK and a label must overlay there without resampling.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import numpy as np
import pydicom
import SimpleITK as sitk
from PIL import Image, UnidentifiedImageError
from pydicom.multival import MultiValue
from pydicom.pixel_data_handlers.util import apply_modality_lut, apply_voi, convert_color_space

from ptxseg.image import CXRImage, CXRReadError, Geometry

__all__ = ["LABEL_SUFFIXES", "MAX_PIXELS", "SUPPORTED_SUFFIXES", "image_id", "read_cxr", "read_label", "write_label"]

# Decompression-bomb guard: 10k x 10k is far above any detector (the largest are ~4.3k x 4.3k).
MAX_PIXELS = 100_000_000

DICOM_SUFFIXES = (".dcm", ".dicom")
RASTER_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
ITK_VOLUME_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".nhdr")
SUPPORTED_SUFFIXES = DICOM_SUFFIXES + RASTER_SUFFIXES + ITK_VOLUME_SUFFIXES
LABEL_SUFFIXES = (".nrrd", ".nii.gz", ".nii", ".png")

# Robust window for images without a VOI: ignores the few saturated or dead detector pixels at either end.
PERCENTILE_WINDOW = (0.5, 99.5)
_PILLOW_FORMATS = ("PNG", "JPEG", "BMP", "TIFF")
_LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114])  # ITU-R BT.601, as Pillow's convert("L")
_EXIF_ORIENTATION = 0x0112


def image_id(path: str | os.PathLike) -> str:
    """The file name without its image suffix; dotted DICOM UIDs keep every digit.

    Only suffixes in ``SUPPORTED_SUFFIXES`` (case-insensitive, multi-dot ones such as ``.nii.gz`` included) are
    removed, so the tail of a UID is never mistaken for an extension.

    Example:
        >>> image_id("train/1.2.276.0.7230010.3.1.4.8323329.12671.1517875241.63757.dcm")
        '1.2.276.0.7230010.3.1.4.8323329.12671.1517875241.63757'
        >>> image_id("1.2.3.45"), image_id("case7.nii.gz")
        ('1.2.3.45', 'case7')
    """
    name = Path(path).name
    suffix = _known_suffix(name)
    return name[: -len(suffix)] if suffix else name


def read_cxr(path: str | os.PathLike) -> CXRImage:
    """Read one chest X-ray into display-ready pixels plus the geometry ITK/3D Slicer give the file.

    DICOM: Modality LUT, then the VOI LUT or the first window (else a 0.5-99.5 % percentile window), MONOCHROME1
    inverted. 8-bit PNG/JPEG/BMP/TIFF are divided by 255; 16-bit ones and NIfTI/NRRD get the percentile window.
    A DICOM without a known suffix is recognised by its ``DICM`` preamble.

    ``spacing`` is the physical pixel spacing (DICOM Pixel Spacing, else Imager Pixel Spacing, else 1.0 mm with a
    warning); ``geometry`` is what ITK reports, which can differ (ITK ignores Imager Pixel Spacing and treats zero
    spacing as 1.0 mm). Labels must be written with ``geometry`` (see ``write_label``).

    Args:
        path: the image file.

    Returns:
        The image; ``warnings`` lists what was assumed.

    Raises:
        CXRReadError: the file is missing, empty, corrupt, not 2-D, larger than ``MAX_PIXELS`` or of an
            unsupported type; the message names the file and the reason.

    Example:
        >>> image = read_cxr("1.2.276.0.7230010.3.1.4.8323329.12671.1517875241.63757.dcm")
        >>> image.shape, image.geometry.dimension, image.metadata["photometric_interpretation"]
        ((1024, 1024), 3, 'MONOCHROME2')
    """
    path = Path(path)
    if not path.is_file():
        raise _error(path, "no such file")
    if path.stat().st_size == 0:
        raise _error(path, "the file is empty")
    suffix = _known_suffix(path.name)
    if suffix in DICOM_SUFFIXES or (suffix is None and _has_dicom_preamble(path)):
        return _read_dicom(path)
    if suffix in RASTER_SUFFIXES:
        return _read_raster(path)
    if suffix in ITK_VOLUME_SUFFIXES:
        return _read_itk_volume(path)
    raise _error(path, f"unsupported file type; supported suffixes: {', '.join(SUPPORTED_SUFFIXES)}")


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

    Example:
        >>> image = read_cxr("chest.dcm")
        >>> write_label(image.pixels > 0.5, like=image, path="chest.label.nrrd")
        PosixPath('chest.label.nrrd')
    """
    path = Path(path)
    labels = _label_values(mask)
    if labels.shape != like.shape:
        raise ValueError(
            f"mask shape {labels.shape} differs from the image shape {like.shape}; pass a mask on the image's grid"
        )
    suffix = _known_suffix(path.name)
    if suffix not in LABEL_SUFFIXES:
        raise ValueError(f"cannot write a label to {path.name}: use one of the suffixes {', '.join(LABEL_SUFFIXES)}")
    if suffix == ".png" and like.geometry != Geometry(dimension=2):
        raise ValueError(
            f"PNG cannot store this image's geometry {like.geometry}; write {image_id(path)}.nrrd or .nii.gz instead"
        )
    if not path.parent.is_dir():
        raise FileNotFoundError(f"folder {path.parent} does not exist; create it before writing {path.name}")
    temporary = path.with_name(f".{image_id(path)}.{uuid.uuid4().hex}.tmp{suffix}")
    try:
        sitk.WriteImage(_itk_label_image(labels, like.geometry), str(temporary), useCompression=True)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


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
        >>> labels = read_label("chest.label.nrrd", like=read_cxr("chest.dcm"))
    """
    path = Path(path)
    if not path.is_file():
        raise _error(path, "file not found")
    reader = _itk_reader(path)
    size = reader.GetSize()
    _check_pixel_count(path, size[1], size[0])
    try:
        label = reader.Execute()
    except RuntimeError as exc:
        raise _error(path, _itk_reason(exc)) from exc
    if label.GetNumberOfComponentsPerPixel() != 1:
        raise _error(path, "a label must have one value per pixel, not colour")
    values = sitk.GetArrayFromImage(label)
    if values.ndim == 3 and values.shape[0] == 1:
        values = values[0]
    if values.ndim != 2:
        raise _error(path, f"expected a 2-D label or a single slice, got an array of shape {values.shape}")
    if like is not None:
        geometry = _geometry_from_reader(reader)
        if values.shape != like.shape:
            raise ValueError(f"label {path.name} has shape {values.shape}, its image has {like.shape}")
        if not _same_grid(geometry, like.geometry):
            raise ValueError(f"label {path.name} lies on {geometry}, not on its image's grid {like.geometry}")
    return _label_values(values)


def _same_grid(a: Geometry, b: Geometry, tolerance: float = 1e-4) -> bool:
    """Same physical grid (a 2-D and a single-slice 3-D file of one image count as the same)."""
    pairs = (
        (a.origin[:2], b.origin[:2]),
        (a.spacing[:2], b.spacing[:2]),
        (a.direction[:2] + a.direction[3:5], b.direction[:2] + b.direction[3:5]),
    )
    return all(np.allclose(x, y, atol=tolerance) for x, y in pairs)


def _known_suffix(name: str) -> str | None:
    lowered = name.lower()
    matches = [suffix for suffix in SUPPORTED_SUFFIXES if lowered.endswith(suffix) and len(lowered) > len(suffix)]
    return max(matches, key=len, default=None)


def _error(path: Path, reason: str) -> CXRReadError:
    return CXRReadError(f"cannot read {path}: {reason}")


def _has_dicom_preamble(path: Path) -> bool:
    with path.open("rb") as file:
        return file.read(132)[128:] == b"DICM"


def _check_pixel_count(path: Path, rows: int, columns: int) -> None:
    if rows * columns > MAX_PIXELS:
        raise _error(
            path,
            f"{rows} x {columns} pixels exceeds MAX_PIXELS={MAX_PIXELS} (decompression-bomb guard); "
            "raise ptxseg.io.MAX_PIXELS if the image is genuine",
        )


def _read_dicom(path: Path) -> CXRImage:
    try:
        # Deferring large values keeps the pixel data on disk until the header has been checked.
        dataset = pydicom.dcmread(path, defer_size="1 KB")
    except Exception as exc:  # pydicom raises many types on corrupt input; all mean "not readable DICOM"
        raise _error(path, f"not a valid DICOM file ({exc})") from exc
    if "PixelData" not in dataset:
        raise _error(path, "DICOM without Pixel Data (not an image, or the file is truncated)")
    frames = int(dataset.get("NumberOfFrames") or 1)
    if frames > 1:
        raise _error(path, f"multi-frame DICOM with {frames} frames; a chest X-ray must be a single 2-D image")
    rows, columns = int(dataset.get("Rows") or 0), int(dataset.get("Columns") or 0)
    if rows < 1 or columns < 1:
        raise _error(path, f"DICOM Rows/Columns {rows} x {columns} do not describe an image")
    _check_pixel_count(path, rows, columns)
    try:
        stored = dataset.pixel_array
    except Exception as exc:  # decoders raise many types; the reason is in the message
        syntax = dataset.file_meta.get("TransferSyntaxUID", "unknown")
        raise _error(
            path, f"pixel data cannot be decoded (transfer syntax {syntax}; truncated or corrupt?): {exc}"
        ) from exc
    photometric = str(dataset.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    warnings: list[str] = []
    if stored.ndim == 3:
        pixels, windowing = _dicom_colour_to_grey(stored, dataset, photometric), "full stored range"
    else:
        pixels, windowing, voi_warnings = _dicom_voi(apply_modality_lut(stored, dataset), dataset)
        warnings += voi_warnings
        if photometric == "MONOCHROME1":
            pixels = 1.0 - pixels
    spacing, spacing_warnings = _dicom_pixel_spacing(dataset)
    geometry = _itk_geometry_matching(path, rows, columns)
    syntax = dataset.file_meta.get("TransferSyntaxUID")
    metadata = {
        "path": str(path),
        "format": "DICOM",
        "photometric_interpretation": photometric,
        "bits_stored": int(dataset.get("BitsStored") or 0),
        "transfer_syntax": f"{syntax} ({syntax.name})" if syntax else "unknown",
        "view_position": str(dataset.get("ViewPosition", "")),
        "patient_orientation": [str(value) for value in (dataset.get("PatientOrientation") or [])],
        "modality": str(dataset.get("Modality", "")),
        "original_dtype": str(stored.dtype),
        "windowing": windowing,
    }
    return CXRImage(pixels.astype(np.float32), spacing, geometry, metadata, warnings + spacing_warnings)


def _dicom_colour_to_grey(stored: np.ndarray, dataset: pydicom.Dataset, photometric: str) -> np.ndarray:
    # The JPEG and JPEG 2000 decoders already return RGB; only native (and RLE) YBR data is still YBR.
    syntax = dataset.file_meta.get("TransferSyntaxUID")
    if photometric.startswith("YBR_FULL") and (syntax is None or not syntax.is_compressed or syntax.is_rle):
        stored = convert_color_space(stored, photometric, "RGB")
    return _luminance(stored) / (2 ** int(dataset.get("BitsStored") or 8) - 1)


def _dicom_voi(values: np.ndarray, dataset: pydicom.Dataset) -> tuple[np.ndarray, str, list[str]]:
    if dataset.get("VOILUTSequence"):
        depth = int(dataset.VOILUTSequence[0].LUTDescriptor[2])
        # The LUT is indexed by integer modality values; its output range is 0 .. 2**depth - 1 (PS3.3 C.11.2.1.1).
        return apply_voi(np.rint(values).astype(np.int64), dataset, index=0) / (2**depth - 1), "VOI LUT", []
    center, width = dataset.get("WindowCenter"), dataset.get("WindowWidth")
    if center is None or width is None:
        return _percentile_window(values)
    function = str(dataset.get("VOILUTFunction") or "LINEAR").upper()
    try:
        center, width = float(_first(center)), float(_first(width))
        return _voi_window(values, center, width, function), f"{function} window center {center:g} width {width:g}", []
    except (TypeError, ValueError) as exc:
        pixels, windowing, warnings = _percentile_window(values)
        return pixels, windowing, [f"window ignored ({exc}); used a percentile window instead", *warnings]


def _first(value):
    return value[0] if isinstance(value, (list, tuple, MultiValue)) else value


def _voi_window(values: np.ndarray, center: float, width: float, function: str) -> np.ndarray:
    """DICOM PS3.3 C.11.2.1.2-3 windows, mapped onto [0, 1]."""
    values = np.asarray(values, dtype=np.float64)
    if function == "LINEAR":
        if width < 1:
            raise ValueError(f"LINEAR window width {width:g} is below 1")
        if width == 1:
            return (values > center - 0.5).astype(np.float64)
        return np.clip((values - (center - 0.5)) / (width - 1) + 0.5, 0.0, 1.0)
    if width <= 0:
        raise ValueError(f"{function} window width {width:g} is not positive")
    if function == "LINEAR_EXACT":
        return np.clip((values - center) / width + 0.5, 0.0, 1.0)
    if function == "SIGMOID":
        return 1.0 / (1.0 + np.exp(-4.0 * (values - center) / width))
    raise ValueError(f"unknown VOI LUT Function {function!r}")


def _dicom_pixel_spacing(dataset: pydicom.Dataset) -> tuple[tuple[float, float], list[str]]:
    warnings = []
    for keyword in ("PixelSpacing", "ImagerPixelSpacing", "NominalScannedPixelSpacing"):
        if keyword not in dataset:
            continue
        try:
            raw = dataset[keyword].value
            spacing = tuple(float(value) for value in raw)
        except (TypeError, ValueError):  # a malformed DS raises while pydicom decodes it: report the bytes
            raw, spacing = dataset.get_item(keyword).value, ()
        if len(spacing) == 2 and all(np.isfinite(spacing)) and min(spacing) > 0:
            if keyword == "ImagerPixelSpacing":
                warnings.append("spacing from Imager Pixel Spacing (at the detector, not corrected for magnification)")
            return spacing, warnings
        warnings.append(f"{keyword} {raw!r} is not two positive numbers; ignored")
    return (1.0, 1.0), [*warnings, "pixel spacing unknown; assumed 1.0 mm"]


def _read_raster(path: Path) -> CXRImage:
    try:
        image = Image.open(path, formats=_PILLOW_FORMATS)
    except Image.DecompressionBombError as exc:
        raise _error(path, f"refused as a decompression bomb: {exc}") from exc
    except (UnidentifiedImageError, OSError) as exc:
        raise _error(path, f"not a {'/'.join(_PILLOW_FORMATS)} image Pillow can identify ({exc})") from exc
    with image:
        _check_pixel_count(path, image.height, image.width)
        frames = getattr(image, "n_frames", 1)
        if frames > 1:
            raise _error(path, f"holds {frames} frames or pages; a chest X-ray must be a single 2-D image")
        try:
            image.load()
            orientation = image.getexif().get(_EXIF_ORIENTATION, 1)  # PNG keeps EXIF after the pixels
        except (OSError, ValueError, SyntaxError) as exc:  # Pillow's decoders report corruption with these
            raise _error(path, f"pixel data cannot be decoded (truncated or corrupt?): {exc}") from exc
        warnings = []
        if orientation != 1:
            warnings.append(f"EXIF orientation {orientation} ignored, as ITK and 3D Slicer ignore it")
        values = _raster_values(image)
        metadata = {"path": str(path), "format": image.format, "mode": image.mode, "original_dtype": str(values.dtype)}
    pixels, metadata["windowing"], window_warnings = _raster_pixels(values)
    geometry = _itk_geometry_matching(path, *pixels.shape)
    spacing = (geometry.spacing[1], geometry.spacing[0])
    if spacing == (1.0, 1.0):
        warnings.append(f"{metadata['format']} stores no pixel spacing; assumed 1.0 mm, as ITK does")
    else:
        warnings.append(f"spacing {spacing} mm from the file's print resolution (as ITK reads it), not a detector's")
    return CXRImage(pixels.astype(np.float32), spacing, geometry, metadata, warnings + window_warnings)


def _raster_values(image: Image.Image) -> np.ndarray:
    """Stored values as Pillow decodes them: 2-D grey, or 3-D RGB for colour and palette modes."""
    if image.mode in ("LA", "La"):
        return np.asarray(image.getchannel(0))
    if image.mode in ("1", "L") or image.mode.startswith(("I", "F")):
        return np.asarray(image)
    return np.asarray(image.convert("RGB"))


def _raster_pixels(values: np.ndarray) -> tuple[np.ndarray, str, list[str]]:
    if values.dtype == bool:
        return values.astype(np.float64), "bilevel", []
    if values.dtype == np.uint8:
        grey = _luminance(values) if values.ndim == 3 else values
        return grey / 255, "8-bit / 255", []
    return _percentile_window(values)


def _read_itk_volume(path: Path) -> CXRImage:
    reader = _itk_reader(path)
    size = reader.GetSize()
    if len(size) == 3 and size[2] != 1:
        raise _error(path, f"volume of size {size} has {size[2]} slices; expected a 2-D image or a single slice")
    if reader.GetNumberOfComponents() != 1:
        raise _error(path, f"{reader.GetNumberOfComponents()} components per pixel; expected a greyscale image")
    _check_pixel_count(path, size[1], size[0])
    try:
        values = sitk.GetArrayFromImage(reader.Execute()).reshape(size[1], size[0])
    except RuntimeError as exc:
        raise _error(path, f"pixel data cannot be read (truncated or corrupt?): {_itk_reason(exc)}") from exc
    pixels, windowing, warnings = _percentile_window(values)
    geometry = _geometry_from_reader(reader)
    metadata = {
        "path": str(path),
        "format": "NIfTI" if _known_suffix(path.name).startswith(".nii") else "NRRD",
        "original_dtype": str(values.dtype),
        "windowing": windowing,
    }
    return CXRImage(pixels.astype(np.float32), (geometry.spacing[1], geometry.spacing[0]), geometry, metadata, warnings)


def _itk_reader(path: Path) -> sitk.ImageFileReader:
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError as exc:
        raise _error(path, f"ITK (3D Slicer's reader) cannot read its header: {_itk_reason(exc)}") from exc
    if reader.GetDimension() > 3:
        raise _error(path, f"{reader.GetDimension()}-D image of size {reader.GetSize()}; expected a 2-D image")
    return reader


def _itk_reason(exc: RuntimeError) -> str:
    return str(exc).strip().splitlines()[-1].split("ERROR:")[-1].strip()


def _itk_geometry_matching(path: Path, rows: int, columns: int) -> Geometry:
    """ITK's geometry for ``path``, after checking that ITK sees the same pixel grid as the decoder did."""
    reader = _itk_reader(path)
    size = reader.GetSize()
    if size[:2] != (columns, rows) or any(extent != 1 for extent in size[2:]):
        raise _error(path, f"ITK reads a grid of size {size}, the decoder {columns} x {rows}; the file is ambiguous")
    return _geometry_from_reader(reader)


def _geometry_from_reader(reader: sitk.ImageFileReader) -> Geometry:
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


def _percentile_window(values: np.ndarray) -> tuple[np.ndarray, str, list[str]]:
    values = np.asarray(values, dtype=np.float64)
    warnings = []
    finite = np.isfinite(values)
    if not finite.all():
        fill = values[finite].min() if finite.any() else 0.0
        values = np.where(finite, values, fill)
        warnings.append(f"{int((~finite).sum())} NaN/infinite pixels shown as the darkest value")
    low, high = np.percentile(values, PERCENTILE_WINDOW)
    if high <= low:  # fewer than 1 % of pixels differ: stretch the full range instead
        low, high = values.min(), values.max()
    if high <= low:
        return np.zeros(values.shape), "constant image", [*warnings, f"the image is constant ({low:g}); shown black"]
    pixels = np.clip((values - low) / (high - low), 0.0, 1.0)
    lower, upper = PERCENTILE_WINDOW
    return pixels, f"percentile {lower:g}-{upper:g} % window [{low:g}, {high:g}]", warnings


def _luminance(rgb: np.ndarray) -> np.ndarray:
    return np.asarray(rgb, dtype=np.float64)[..., :3] @ _LUMA_WEIGHTS


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


def _itk_label_image(labels: np.ndarray, geometry: Geometry) -> sitk.Image:
    dimension = geometry.dimension
    image = sitk.GetImageFromArray(labels if dimension == 2 else labels[np.newaxis])
    image.SetOrigin(geometry.origin[:dimension])
    image.SetSpacing(geometry.spacing[:dimension])
    image.SetDirection(tuple(np.array(geometry.direction).reshape(3, 3)[:dimension, :dimension].ravel()))
    return image
