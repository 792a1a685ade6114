"""DICOM SEG of 2-D chest X-rays: written by highdicom from real and awkward CR/DX sources, valid by dciodvfy,
read back by ptxseg's pydicom reader to exactly the mask, with the triage statement and the references intact."""

import numpy as np
import pydicom
import pytest
from pydicom.uid import JPEG2000Lossless, generate_uid

from ptxseg.io.seg import correction_seg, prediction_seg, read_seg
from ptxseg.io.writers import write_dicom
from tests.support.dciodvfy import dciodvfy_errors
from tests.support.io_fixtures import marker_array
from tests.support.io_fixtures import write_dicom as write_fixture_dicom

NEGATIVE_UID = "1.2.276.0.7230010.3.1.4.8323329.6904.1517875201.850819"


def _siim(siim_sample):
    return siim_sample / "dicom" / f"{NEGATIVE_UID}.dcm"


def _cr_12_bit(folder):
    return write_dicom((np.arange(64 * 48).reshape(64, 48) % 4096).astype(np.uint16), folder / "cr.dcm", bits_stored=12)


def _identified(**tags):
    """The study and series UIDs every image in an archive has (the io fixtures leave them out)."""
    return {"StudyInstanceUID": generate_uid(), "SeriesInstanceUID": generate_uid(), **tags}


def _dx_monochrome1_jpeg2000(folder):
    return write_fixture_dicom(
        folder / "dx.dcm",
        marker_array(65535, np.uint16),
        photometric="MONOCHROME1",
        transfer_syntax=JPEG2000Lossless,
        SOPClassUID="1.2.840.10008.5.1.4.1.1.1.1",
        PatientAge="53",  # no unit: invalid, highdicom copies it as it is
        LossyImageCompression="01",  # with a ratio but no method, as some archives store it
        LossyImageCompressionRatio=8,
        **_identified(),
    )


def _zero_spacing(folder):
    return write_fixture_dicom(
        folder / "zero.dcm", marker_array(), **_identified(PixelSpacing=[0, 0], PatientOrientation=["L", "F"])
    )


SOURCES = {"siim": _siim, "cr12": _cr_12_bit, "dx_m1_j2k": _dx_monochrome1_jpeg2000, "zero_spacing": _zero_spacing}


@pytest.fixture(params=sorted(SOURCES))
def source_path(request, tmp_path):
    if request.param == "siim":
        return _siim(request.getfixturevalue("siim_sample"))
    return SOURCES[request.param](tmp_path)


def _mask(source):
    mask = np.zeros((source.Rows, source.Columns), bool)
    mask[2:11, 3:13] = True  # off-centre: a transposed or flipped reading would not match
    return mask


def test_prediction_seg_is_valid_and_reads_back_exactly(source_path, tmp_path):
    source = pydicom.dcmread(source_path)
    mask = _mask(source)
    seg = prediction_seg(source, mask, probability=0.8731, flag=True, qualified=True, model_version="sha256:ab12")
    seg.save_as(tmp_path / "seg.dcm")

    assert dciodvfy_errors(tmp_path / "seg.dcm") == []
    content = read_seg(tmp_path / "seg.dcm")
    assert np.array_equal(content.mask, mask)
    assert content.referenced_sop_instance_uid == source.SOPInstanceUID
    assert (content.algorithm_type, content.probability, content.flag, content.qualified) == (
        "AUTOMATIC",
        0.8731,
        True,
        True,
    )
    assert content.model_version == "sha256:ab12"
    written = pydicom.dcmread(tmp_path / "seg.dcm")
    assert written.StudyInstanceUID == source.StudyInstanceUID
    assert written.SeriesInstanceUID != source.SeriesInstanceUID
    assert written.ContentLabel == "PTX_8731_FLAG"
    assert "PatientAge" not in written or written.PatientAge.endswith(("D", "W", "M", "Y"))
    if "PatientOrientation" in source:
        assert list(written.PatientOrientation) == list(source.PatientOrientation)


def test_correction_seg_is_manual_with_the_annotator(source_path, tmp_path):
    source = pydicom.dcmread(source_path)
    correction_seg(source, _mask(source), annotator="Smith^Anna").save_as(tmp_path / "seg.dcm")

    assert dciodvfy_errors(tmp_path / "seg.dcm") == []
    content = read_seg(tmp_path / "seg.dcm")
    assert (content.algorithm_type, content.annotator, content.probability) == ("MANUAL", "Smith^Anna", None)
    assert np.array_equal(content.mask, _mask(source))


def test_segment_codes_and_algorithm_identification(tmp_path):
    source = pydicom.dcmread(_cr_12_bit(tmp_path))
    seg = prediction_seg(source, _mask(source), probability=0.2, flag=False, qualified=True, model_version="7")
    segment = seg.SegmentSequence[0]

    category, kind = segment.SegmentedPropertyCategoryCodeSequence[0], segment.SegmentedPropertyTypeCodeSequence[0]
    assert (category.CodeValue, category.CodingSchemeDesignator) == ("49755003", "SCT")
    assert category.CodeMeaning == "Morphologically Abnormal Structure"
    assert (kind.CodeValue, kind.CodingSchemeDesignator, kind.CodeMeaning) == ("36118008", "SCT", "Pneumothorax")
    algorithm = segment.SegmentationAlgorithmIdentificationSequence[0]
    assert algorithm.AlgorithmFamilyCodeSequence[0].CodeMeaning == "Artificial Intelligence"
    assert (algorithm.AlgorithmName, algorithm.AlgorithmVersion) == ("ptxseg", "7")
    assert seg.SeriesDescription == "ptxseg AI pneumothorax: not flagged" and "ContentQualification" not in seg


def test_an_unqualified_model_never_flags_and_says_why(tmp_path):
    source = pydicom.dcmread(_cr_12_bit(tmp_path))
    seg = prediction_seg(source, _mask(source), probability=0.95, flag=True, qualified=False, model_version="1")

    assert seg.ContentLabel == "PTX_9500_NQ"
    assert seg.SeriesDescription == "ptxseg AI pneumothorax: not qualified for triage"
    assert seg.ContentQualification == "RESEARCH"
    seg.save_as(tmp_path / "research.dcm")
    assert dciodvfy_errors(tmp_path / "research.dcm") == []
    assert "not qualified for triage" in seg.SegmentSequence[0].SegmentDescription
    content = read_seg(seg)
    assert (content.flag, content.qualified, content.probability) == (False, False, 0.95)


def test_an_empty_prediction_keeps_its_frame(tmp_path):
    source = pydicom.dcmread(_cr_12_bit(tmp_path))
    empty = np.zeros((source.Rows, source.Columns), bool)
    seg = prediction_seg(source, empty, probability=0.01, flag=False, qualified=True, model_version="1")

    assert not read_seg(seg).mask.any()


def test_a_mask_off_the_image_grid_is_refused(tmp_path):
    source = pydicom.dcmread(_cr_12_bit(tmp_path))
    with pytest.raises(ValueError, match="on the image's own grid"):
        correction_seg(source, np.zeros((source.Columns, source.Rows), bool), annotator="x")


def test_reading_a_non_seg_says_what_it_is(tmp_path):
    with pytest.raises(ValueError, match="not a DICOM Segmentation"):
        read_seg(_cr_12_bit(tmp_path))


@pytest.mark.parametrize(
    "code, meaning",
    [(("39607008", "SCT", "Lung"), "Lung \\(SCT 39607008\\)"), (("36118008", "99LOCAL", "PTX"), "PTX \\(99LOCAL")],
)
def test_another_tools_seg_of_something_else_is_no_pneumothorax_label(tmp_path, code, meaning):
    source = pydicom.dcmread(_cr_12_bit(tmp_path))
    correction_seg(source, _mask(source), annotator="Other^Tool").save_as(tmp_path / "other.dcm")
    seg = pydicom.dcmread(tmp_path / "other.dcm")
    kind = seg.SegmentSequence[0].SegmentedPropertyTypeCodeSequence[0]
    kind.CodeValue, kind.CodingSchemeDesignator, kind.CodeMeaning = code
    with pytest.raises(ValueError, match=f"the segment is {meaning}.*not Pneumothorax \\(SCT 36118008\\)"):
        read_seg(seg)
    del seg.SegmentSequence[0].SegmentedPropertyTypeCodeSequence
    with pytest.raises(ValueError, match="no segmented property"):
        read_seg(seg)
