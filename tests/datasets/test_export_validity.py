"""A valid source exports valid DICOM (dciodvfy), references follow their images, burned-in text is refused."""

import csv
import shutil

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.valuerep import format_number_as_ds

from ptxseg.datasets.export import BURNED_IN_NOT_STATED, BURNED_IN_TEXT, DICOM_FOLDER, export_dataset
from tests.support.dciodvfy import dciodvfy_errors


def _purpose() -> Sequence:
    code = Dataset()
    # DCM 121320 "Uncompressed predecessor" (CID 7202): any coded purpose makes the reference complete.
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "121320", "DCM", "Uncompressed predecessor"
    return Sequence([code])


def _make_valid(dataset: Dataset) -> None:
    """Mend what dciodvfy finds in the identified SIIM sample, none of it the export's doing."""
    # The sample's spacings (0.14300000000000002) are longer than DS allows.
    dataset.PixelSpacing = [format_number_as_ds(float(value)) for value in dataset.PixelSpacing]
    dataset.PatientAge = f"{int(dataset.PatientAge):03d}Y"
    dataset.Manufacturer = "ACME"
    dataset.OtherPatientIDsSequence[0].TypeOfPatientID = "TEXT"
    dataset.ContributingEquipmentSequence[0].PurposeOfReferenceCodeSequence = _purpose()


@pytest.fixture(scope="module")
def valid_studies(identified_studies, tmp_path_factory):
    """The identified studies, valid; the first says YES to burned-in text, the second does not say, the fourth
    was derived from the third (Source Image Sequence)."""
    studies = tmp_path_factory.mktemp("valid") / "studies"
    shutil.copytree(identified_studies, studies)
    paths = sorted(studies.glob("*.dcm"))
    datasets = [pydicom.dcmread(path) for path in paths]
    assert datasets[0].BurnedInAnnotation == "YES", "conftest's first image is the burned-in one"
    for dataset in datasets:
        _make_valid(dataset)
    del datasets[1].BurnedInAnnotation
    source = Dataset()
    source.ReferencedSOPClassUID = datasets[2].SOPClassUID
    source.ReferencedSOPInstanceUID = datasets[2].SOPInstanceUID
    source.PurposeOfReferenceCodeSequence = _purpose()
    datasets[3].SourceImageSequence = Sequence([source])
    for dataset, path in zip(datasets, paths, strict=True):
        dataset.save_as(path)
    return studies, [path.stem for path in paths]


def test_a_valid_source_exports_valid_dicom_whose_references_follow_their_images(valid_studies, tmp_path):
    studies, old_ids = valid_studies
    for path in sorted(studies.glob("*.dcm")):
        assert dciodvfy_errors(path) == [], f"the source {path.name} must be valid for this test to mean anything"
    key = tmp_path / "key.csv"
    result = export_dataset(studies, tmp_path / "out", key_file=key, assume_no_burned_in=True)
    assert result.skipped == [(old_ids[0], BURNED_IN_TEXT)] and len(result.exported) == len(old_ids) - 1
    for image_id in result.exported:
        assert dciodvfy_errors(tmp_path / "out" / DICOM_FOLDER / f"{image_id}.dcm") == [], image_id
    with key.open() as file:
        new_ids = {row["old"]: row["new"] for row in csv.DictReader(file) if row["kind"] == "image_id"}
    original, derived = (pydicom.dcmread(tmp_path / "out" / DICOM_FOLDER / f"{new_ids[i]}.dcm") for i in old_ids[2:4])
    reference = derived.SourceImageSequence[0]
    assert reference.ReferencedSOPInstanceUID == original.SOPInstanceUID != old_ids[2]
    assert reference.ReferencedSOPClassUID == original.SOPClassUID == pydicom.uid.SecondaryCaptureImageStorage


def test_burned_in_yes_is_refused_and_absent_only_exports_when_the_source_is_said_to_have_none(valid_studies, tmp_path):
    studies, old_ids = valid_studies
    result = export_dataset(studies, tmp_path / "out")
    assert result.skipped == [(old_ids[0], BURNED_IN_TEXT), (old_ids[1], BURNED_IN_NOT_STATED)]
    assert len(result.exported) == len(old_ids) - 2
    assert len(list((tmp_path / "out" / DICOM_FOLDER).iterdir())) == len(result.exported)
