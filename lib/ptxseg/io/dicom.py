"""Read a DICOM chest X-ray: decode with pydicom, apply the Modality LUT and the VOI (LUT or window), as a viewer does.

Kept apart from ``ptxseg.io.reader`` because DICOM's display pipeline (PS3.3 C.11) and its spacing attributes are a
subject of their own; ITK still supplies the geometry, so the label overlays in 3D Slicer.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pydicom
from pydicom.multival import MultiValue
from pydicom.pixel_data_handlers.util import apply_modality_lut, apply_voi, convert_color_space

from ptxseg.image import CXRImage
from ptxseg.io.guards import check_pixel_count, luminance, percentile_window, read_error
from ptxseg.io.itk import itk_geometry_matching

__all__ = ["has_dicom_preamble", "read_dicom"]


def has_dicom_preamble(path: Path) -> bool:
    """Whether the file carries the ``DICM`` marker after its 128-byte preamble (a DICOM without a suffix).

    Example:
        >>> has_dicom_preamble(Path("1.2.276.0.7230010.3.1.4.8323329.12671.1517875241.63757"))  # doctest: +SKIP
        True
    """
    with path.open("rb") as file:
        return file.read(132)[128:] == b"DICM"


def read_dicom(path: Path, max_pixels: int) -> CXRImage:
    """Read a single-frame DICOM as ``ptxseg.io.reader.read_cxr`` describes; refuse grids above ``max_pixels``.

    Raises:
        CXRReadError: not readable DICOM, no pixel data, multi-frame, too large, or undecodable.

    Example:
        >>> read_dicom(Path("chest.dcm"), max_pixels=100_000_000).metadata["format"]  # doctest: +SKIP
        'DICOM'
    """
    try:
        # Deferring large values keeps the pixel data on disk until the header has been checked.
        dataset = pydicom.dcmread(path, defer_size="1 KB")
    except Exception as exc:  # pydicom raises many types on corrupt input; all mean "not readable DICOM"
        raise read_error(path, f"not a valid DICOM file ({exc})") from exc
    _check_declared_lengths(path, dataset)
    try:
        # pydicom parses values when they are first used: do it here, so that a corrupt value is a clear refusal
        # rather than whatever its parser raises later (NotImplementedError for an unknown VR, struct errors...).
        for tag in dataset.keys():
            if tag != _PIXEL_DATA:
                dataset[tag]
    except Exception as exc:  # as for dcmread: every parser error means "not readable DICOM"
        raise read_error(path, f"not a valid DICOM file ({type(exc).__name__}: {exc})") from exc
    if "PixelData" not in dataset:
        raise read_error(path, "DICOM without Pixel Data (not an image, or the file is truncated)")
    frames = int(dataset.get("NumberOfFrames") or 1)
    if frames > 1:
        raise read_error(path, f"multi-frame DICOM with {frames} frames; a chest X-ray must be a single 2-D image")
    rows, columns = int(dataset.get("Rows") or 0), int(dataset.get("Columns") or 0)
    if rows < 1 or columns < 1:
        raise read_error(path, f"DICOM Rows/Columns {rows} x {columns} do not describe an image")
    check_pixel_count(path, rows, columns, max_pixels)
    try:
        stored = dataset.pixel_array
    except Exception as exc:  # decoders raise many types; the reason is in the message
        syntax = dataset.file_meta.get("TransferSyntaxUID", "unknown")
        raise read_error(
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
    geometry = itk_geometry_matching(path, rows, columns)
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


def _check_declared_lengths(path: Path, dataset: pydicom.Dataset) -> None:
    """Refuse an element that declares more bytes than the whole file holds, before ITK reads the file.

    pydicom only notes such a length (its values are deferred), but GDCM, which reads the geometry for ITK,
    allocates it: found by fuzzing, a 9 kB file whose trailing bytes parse as a 2.7 GB element took 2.6 GB and 3 s.
    """
    size = path.stat().st_size
    for tag, element in dataset.items():  # raw elements: their values are not read
        length = getattr(element, "length", 0) or 0
        if length != _UNDEFINED_LENGTH and length > size:
            raise read_error(
                path, f"element {tag} declares {length} bytes in a file of {size} bytes (truncated or corrupt)"
            )
    pixels = dict(dataset.items()).get(_PIXEL_DATA)
    if getattr(pixels, "length", None) == _UNDEFINED_LENGTH and getattr(pixels, "value_tell", None) is not None:
        _check_fragments(path, pixels.value_tell, size)


def _check_fragments(path: Path, start: int, size: int) -> None:
    """Every item of encapsulated pixel data must end within the file (GDCM allocates what an item declares)."""
    with path.open("rb") as file:
        file.seek(start)
        while (header := file.read(8)) and len(header) == 8:
            group, element, length = struct.unpack("<HHI", header)
            if (group, element) == (0xFFFE, 0xE0DD):
                return
            if (group, element) != (0xFFFE, 0xE000) or file.tell() + length > size:
                raise read_error(
                    path,
                    f"encapsulated pixel data is corrupt at byte {file.tell() - 8}: "
                    f"an item of {length} bytes does not fit in the file",
                )
            file.seek(length, 1)
    raise read_error(path, "encapsulated pixel data has no end (truncated or corrupt)")


_UNDEFINED_LENGTH = 0xFFFFFFFF
_PIXEL_DATA = 0x7FE00010


def _dicom_colour_to_grey(stored: np.ndarray, dataset: pydicom.Dataset, photometric: str) -> np.ndarray:
    # The JPEG and JPEG 2000 decoders already return RGB; only native (and RLE) YBR data is still YBR.
    syntax = dataset.file_meta.get("TransferSyntaxUID")
    if photometric.startswith("YBR_FULL") and (syntax is None or not syntax.is_compressed or syntax.is_rle):
        stored = convert_color_space(stored, photometric, "RGB")
    return luminance(stored) / (2 ** int(dataset.get("BitsStored") or 8) - 1)


def _dicom_voi(values: np.ndarray, dataset: pydicom.Dataset) -> tuple[np.ndarray, str, list[str]]:
    if not np.isfinite(values).all():  # a NaN or infinite Rescale Slope/Intercept: no window can show those
        return percentile_window(values)
    center, width = dataset.get("WindowCenter"), dataset.get("WindowWidth")
    if not dataset.get("VOILUTSequence") and (center is None or width is None):
        return percentile_window(values)
    kind = "VOI LUT" if dataset.get("VOILUTSequence") else "window"
    try:
        if kind == "VOI LUT":
            return _voi_lut(values, dataset), "VOI LUT", []
        function = str(dataset.get("VOILUTFunction") or "LINEAR").upper()
        center, width = float(_first(center)), float(_first(width))
        return _voi_window(values, center, width, function), f"{function} window center {center:g} width {width:g}", []
    except Exception as exc:  # pydicom's LUT code raises many types on a malformed LUT (found by fuzzing)
        pixels, windowing, warnings = percentile_window(values)
        return pixels, windowing, [f"{kind} ignored ({exc}); used a percentile window instead", *warnings]


def _voi_lut(values: np.ndarray, dataset: pydicom.Dataset) -> np.ndarray:
    depth = int(dataset.VOILUTSequence[0].LUTDescriptor[2])
    if not 1 <= depth <= 16:
        raise ValueError(f"{depth} bits per LUT entry; 1 to 16 can be read")
    # The LUT is indexed by integer modality values; its output range is 0 .. 2**depth - 1 (PS3.3 C.11.2.1.1).
    pixels = apply_voi(np.rint(values).astype(np.int64), dataset, index=0) / (2**depth - 1)
    return np.clip(pixels, 0.0, 1.0)


def _first(value):
    return value[0] if isinstance(value, (list, tuple, MultiValue)) else value


def _voi_window(values: np.ndarray, center: float, width: float, function: str) -> np.ndarray:
    """DICOM PS3.3 C.11.2.1.2-3 windows, mapped onto [0, 1]."""
    values = np.asarray(values, dtype=np.float64)
    if not (np.isfinite(center) and np.isfinite(width)):
        raise ValueError(f"window center {center:g} / width {width:g} are not finite")
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
