"""DICOM Segmentation objects for 2-D chest X-rays: one pneumothorax segment, written with highdicom, read with pydicom.

A prediction is an AUTOMATIC segment with the model's identification; a correction is a MANUAL one with the
annotator's name. Both are a new series in the source's study and reference the source SOP instance. The
image-level probability, the triage flag and whether the model is qualified for triage travel in the segment and
series descriptions and in the Content Label, so a PACS worklist can sort and filter on them without decoding pixels.

highdicom 0.22.0 cannot take real CR/DX files as they come (measured): it raises on "lossy compressed" sources
without a ratio or method (SIIM's DICOMs), copies an invalid Patient Age, omits Patient Orientation, and writes Pixel
Measures from a zero Pixel Spacing. :func:`_highdicom_source` repairs a copy of the source header for it. Its own
reader fails on these 2-D objects (no Slice Thickness), so :func:`read_seg` decodes them with pydicom.
"""

from __future__ import annotations

import copy
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import JPEG2000, JPEGBaseline8Bit, JPEGExtended12Bit, JPEGLSNearLossless

import ptxseg

__all__ = ["SEG_SOP_CLASS_UID", "SegContent", "correction_seg", "prediction_seg", "read_seg", "triage_label"]

SEG_SOP_CLASS_UID = "1.2.840.10008.5.1.4.1.1.66.4"
CATEGORY = hd.sr.CodedConcept("49755003", "SCT", "Morphologically Abnormal Structure")
PNEUMOTHORAX = hd.sr.CodedConcept("36118008", "SCT", "Pneumothorax")
NOT_QUALIFIED = "not qualified for triage"
# Series numbers of ptxseg's SEG series: far above the modality's own, so they sort after the images in viewers.
PREDICTION_SERIES_NUMBER = 9001
CORRECTION_SERIES_NUMBER = 9002
_LOSSY_METHODS = {
    JPEGBaseline8Bit: "ISO_10918_1",
    JPEGExtended12Bit: "ISO_10918_1",
    JPEG2000: "ISO_15444_1",
    JPEGLSNearLossless: "ISO_14495_1",
}
# Type 2 patient and study attributes highdicom copies without a default; sources in the wild miss some.
_TYPE_2_COPIED = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyDate",
    "StudyTime",
    "StudyID",
    "AccessionNumber",
    "ReferringPhysicianName",
)
_AGE = re.compile(r"^\d{3}[DWMY]$")
_PROBABILITY = re.compile(r"probability (\d\.\d+)")


@dataclass(frozen=True)
class SegContent:
    """What a ptxseg (or any single-segment, single-frame) SEG says about its source image.

    Attributes:
        mask: boolean mask on the source's pixel grid (rows x columns as stored, which is as displayed).
        referenced_sop_instance_uid: the source image's SOP Instance UID.
        algorithm_type: "AUTOMATIC", "SEMIAUTOMATIC" or "MANUAL".
        probability: the image-level pneumothorax probability of a prediction, else None.
        flag: whether the prediction flagged the image for triage (never for an unqualified model).
        qualified: whether the model was qualified for triage when it predicted (True for corrections).
        model_version: the algorithm version of a prediction, else None.
        annotator: the content creator of a correction, else None.
    """

    mask: np.ndarray
    referenced_sop_instance_uid: str
    algorithm_type: str
    probability: float | None
    flag: bool
    qualified: bool
    model_version: str | None
    annotator: str | None


def triage_label(probability: float, flag: bool, qualified: bool) -> str:
    """The human-readable triage statement a prediction SEG carries (and :func:`read_seg` parses back).

    Example:
        >>> triage_label(0.873, True, True)
        'pneumothorax probability 0.8730; flagged for triage'
        >>> triage_label(0.91, False, False)
        'pneumothorax probability 0.9100; not qualified for triage'
    """
    return f"pneumothorax probability {probability:.4f}; {_statement(flag, qualified)}"


def _statement(flag: bool, qualified: bool) -> str:
    if not qualified:
        return NOT_QUALIFIED
    return "flagged for triage" if flag else "not flagged"


def prediction_seg(
    source: Dataset,
    mask: np.ndarray,
    *,
    probability: float,
    flag: bool,
    qualified: bool,
    model_version: str,
) -> Dataset:
    """The AUTOMATIC SEG of one prediction on ``source``: a new series in its study, referencing it.

    Args:
        source: the CR/DX (or any single-frame) image, as pydicom read it.
        mask: the predicted mask on the source's grid.
        probability: the image-level pneumothorax probability.
        flag: whether the prediction flags the image; ignored (never a flag) when ``qualified`` is False.
        qualified: whether the model is qualified for triage; an unqualified SEG says so in every description and
            is marked ContentQualification RESEARCH.
        model_version: recorded as the algorithm version.

    Example:
        >>> seg = prediction_seg(  # doctest: +SKIP
        ...     source, mask, probability=0.9, flag=True, qualified=True, model_version="3"
        ... )
        >>> seg.ContentLabel, read_seg(seg).flag  # doctest: +SKIP
        ('PTX_9000_FLAG', True)
    """
    flag = flag and qualified
    algorithm = hd.AlgorithmIdentificationSequence(
        name="ptxseg", family=codes.cid7162.ArtificialIntelligence, version=str(model_version)[:64]
    )
    description = triage_label(probability, flag, qualified)
    suffix = "_NQ" if not qualified else ("_FLAG" if flag else "")
    return _segmentation(
        source,
        mask,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm=algorithm,
        description=description,
        content_label=f"PTX_{min(int(probability * 10000), 9999):04d}{suffix}",
        series_number=PREDICTION_SERIES_NUMBER,
        # A PACS lists series by this text: a verdict, never a number that reads as a finding.
        series_description=f"ptxseg AI pneumothorax: {_statement(flag, qualified)}",
        creator=None,
        research=not qualified,
    )


def correction_seg(source: Dataset, mask: np.ndarray, *, annotator: str) -> Dataset:
    """The MANUAL SEG of a submitted label on ``source``, with ``annotator`` as content creator.

    Example:
        >>> correction_seg(source, mask, annotator="Smith^Anna").ContentCreatorName  # doctest: +SKIP
        'Smith^Anna'
    """
    # A name of one component needs a trailing caret to be a valid Person Name (PS3.5 6.2.1.2).
    name = annotator if "^" in annotator else f"{annotator}^"
    return _segmentation(
        source,
        mask,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
        algorithm=None,
        description="pneumothorax outlined by a reader",
        content_label="PTX_MANUAL",
        series_number=CORRECTION_SERIES_NUMBER,
        series_description="ptxseg manual pneumothorax label",
        creator=name,
    )


def _segmentation(
    source: Dataset,
    mask: np.ndarray,
    *,
    algorithm_type,
    algorithm,
    description: str,
    content_label: str,
    series_number: int,
    series_description: str,
    creator: str | None,
    research: bool = False,
) -> Dataset:
    mask = np.asarray(mask)
    if mask.shape != (source.Rows, source.Columns):
        raise ValueError(
            f"mask shape {mask.shape} differs from the image's {source.Rows} x {source.Columns}; "
            "pass a mask on the image's own grid"
        )
    segment = hd.seg.SegmentDescription(
        segment_number=1,
        segment_label="Pneumothorax",
        segmented_property_category=CATEGORY,
        segmented_property_type=PNEUMOTHORAX,
        algorithm_type=algorithm_type,
        algorithm_identification=algorithm,
    )
    segment.SegmentDescription = description[:64]
    with warnings.catch_warnings():
        # De-identified sources carry single-component names (SIIM: a UUID); highdicom warns on each copy.
        warnings.filterwarnings("ignore", message=".*unlikely to represent the intended person name.*")
        seg = hd.seg.Segmentation(
            source_images=[_highdicom_source(source)],
            pixel_array=mask.astype(bool),
            segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
            segment_descriptions=[segment],
            series_instance_uid=hd.UID(),
            series_number=series_number,
            sop_instance_uid=hd.UID(),
            instance_number=1,
            manufacturer="ptxseg",
            manufacturer_model_name="ptxseg pneumothorax segmentation",
            software_versions=ptxseg.__version__,
            device_serial_number="none",
            # An empty prediction is a result too: its frame must be there to decode to an empty mask.
            omit_empty_frames=False,
            content_label=content_label,
            content_description=description[:64],
            content_creator_name=creator,
        )
    seg.SeriesDescription = series_description[:64]
    if research:  # a model not qualified for triage: its results are research, not clinical content (PS3.3 C.8.13.2)
        seg.ContentQualification = "RESEARCH"
    # Type 2C without a Frame of Reference (every CR/DX): the source's value, or present and empty when unknown.
    seg.PatientOrientation = source.get("PatientOrientation", "")
    if "PatientAge" in seg and not _AGE.match(str(seg.PatientAge)):
        del seg.PatientAge
    return seg


def _highdicom_source(source: Dataset) -> Dataset:
    """A header-only copy of ``source`` that highdicom 0.22.0 accepts and copies into a valid SEG."""
    header = copy.copy(source)  # shallow: the pixel data is not needed, and not copied
    header.file_meta = getattr(source, "file_meta", Dataset())
    if "PixelData" in header:
        del header.PixelData
    for keyword in _TYPE_2_COPIED:
        if keyword not in header:
            setattr(header, keyword, "")  # present and empty: what Type 2 means when the value is unknown
    if str(header.get("LossyImageCompression", "")) == "01":
        ratio, method = _lossy_ratio_and_method(source)
        if ratio and method:
            header.LossyImageCompressionRatio, header.LossyImageCompressionMethod = ratio, method
        else:
            # Unknowable: saying "lossy" with made-up numbers would be worse than the highdicom default.
            del header.LossyImageCompression
    spacing = [float(value) for value in header.get("PixelSpacing") or []]
    if len(spacing) != 2 or min(spacing) <= 0:
        if "PixelSpacing" in header:
            del header.PixelSpacing  # no Pixel Measures rather than a zero spacing dciodvfy rejects
    return header


def _lossy_ratio_and_method(source: Dataset) -> tuple[list[str] | None, list[str] | None]:
    ratio = source.get("LossyImageCompressionRatio")
    method = source.get("LossyImageCompressionMethod")
    syntax = getattr(source, "file_meta", Dataset()).get("TransferSyntaxUID")
    if not method and syntax in _LOSSY_METHODS:
        method = _LOSSY_METHODS[syntax]
    if not ratio and syntax in _LOSSY_METHODS and "PixelData" in source:
        # The ratio of this very file: its decoded size over the compressed stream (PS3.3 C.7.6.1.1.5.2).
        decoded = int(source.Rows) * int(source.Columns) * int(source.get("SamplesPerPixel", 1))
        decoded *= int(source.BitsAllocated) // 8
        ratio = f"{decoded / len(source.PixelData):.2f}"[:16]
    return ratio, method


def read_seg(seg: Dataset | str | os.PathLike) -> SegContent:
    """Read a single-frame, single-segment BINARY SEG (a ptxseg SEG, or any such 2-D one) with pydicom.

    Raises:
        ValueError: not a Segmentation, not BINARY, more than one frame or segment, a segment that is not of the
            pneumothorax (SCT 36118008: another tool's lung or nodule SEG is no pneumothorax label), or no
            referenced image.

    Example:
        >>> content = read_seg("prediction-seg.dcm")  # doctest: +SKIP
        >>> content.mask.shape, content.referenced_sop_instance_uid  # doctest: +SKIP
        ((1024, 1024), '1.2.276.0.7230010.3.1.4.8323329.6904.1517875201.850819')
    """
    if not isinstance(seg, Dataset):
        seg = pydicom.dcmread(Path(seg))
    if seg.get("SOPClassUID") != SEG_SOP_CLASS_UID:
        raise ValueError(f"not a DICOM Segmentation (SOP Class {seg.get('SOPClassUID')}, want {SEG_SOP_CLASS_UID})")
    if seg.get("SegmentationType") != "BINARY":
        raise ValueError(f"only BINARY segmentations are read, this one is {seg.get('SegmentationType')}")
    frames = int(seg.get("NumberOfFrames", 1))
    segments = seg.get("SegmentSequence") or []
    if frames != 1 or len(segments) != 1:
        raise ValueError(f"expected 1 frame and 1 segment (a 2-D X-ray SEG), got {frames} and {len(segments)}")
    _require_pneumothorax(segments[0])
    rows, columns = int(seg.Rows), int(seg.Columns)
    # BINARY frames are packed 1 bit a pixel, least significant bit first (PS3.5 8.1.1).
    bits = np.unpackbits(np.frombuffer(seg.PixelData, np.uint8), bitorder="little")
    mask = bits[: rows * columns].reshape(rows, columns).astype(bool)
    segment = segments[0]
    description = str(segment.get("SegmentDescription", ""))
    probability = _PROBABILITY.search(description)
    algorithms = segment.get("SegmentationAlgorithmIdentificationSequence") or []
    return SegContent(
        mask=mask,
        referenced_sop_instance_uid=_referenced_instance(seg),
        algorithm_type=str(segment.SegmentAlgorithmType),
        probability=float(probability.group(1)) if probability else None,
        flag=description.endswith("flagged for triage"),
        qualified=not description.endswith(NOT_QUALIFIED),
        model_version=str(algorithms[0].AlgorithmVersion) if algorithms else None,
        annotator=str(seg.ContentCreatorName).rstrip("^") if seg.get("ContentCreatorName") else None,
    )


def _require_pneumothorax(segment: Dataset) -> None:
    """Another tool's single-segment SEG of the lung, a nodule or a tube is not a pneumothorax label."""
    codes = segment.get("SegmentedPropertyTypeCodeSequence") or []
    code = codes[0] if codes else Dataset()
    value, scheme = str(code.get("CodeValue", "")), str(code.get("CodingSchemeDesignator", ""))
    if (value, scheme) != (PNEUMOTHORAX.value, PNEUMOTHORAX.scheme_designator):
        meaning = str(code.get("CodeMeaning", "")) or "no segmented property"
        raise ValueError(
            f"the segment is {meaning} ({scheme} {value}), not {PNEUMOTHORAX.meaning} "
            f"({PNEUMOTHORAX.scheme_designator} {PNEUMOTHORAX.value})"
        )


def _referenced_instance(seg: Dataset) -> str:
    for series in seg.get("ReferencedSeriesSequence") or []:
        for instance in series.get("ReferencedInstanceSequence") or []:
            return str(instance.ReferencedSOPInstanceUID)
    for item in seg.get("SourceImageSequence") or []:
        return str(item.ReferencedSOPInstanceUID)
    raise ValueError("the SEG references no source image (no Referenced Series or Source Image Sequence)")
