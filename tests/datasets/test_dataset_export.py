"""``export_dataset`` on the real SIIM sample with identifying headers: nothing of the basic profile survives."""

import csv

import numpy as np
import pydicom
import pytest

from ptxseg.datasets.deidentify import BASIC_PROFILE_TAGS
from ptxseg.datasets.export import (
    BURNED_IN_TEXT,
    DICOM_FOLDER,
    LABEL_FOLDER,
    MANIFEST_COLUMNS,
    MANIFEST_NAME,
    RLE_CSV_NAME,
    export_dataset,
)
from ptxseg.datasets.siim import read_siim_rle_csv, rle_decode
from ptxseg.datasets.siim_studies import LABEL_FOLDER as STUDIES_LABELS
from ptxseg.io.labels import read_label
from ptxseg.io.reader import read_cxr
from tests.support.dciodvfy import dciodvfy_errors


def _elements(dataset):
    """Every element at every depth, file meta included."""
    found = []
    dataset.walk(lambda _, element: found.append(element))
    if getattr(dataset, "file_meta", None) is not None:
        dataset.file_meta.walk(lambda _, element: found.append(element))
    return found


def _values(element) -> set[str]:
    if element.VR == "SQ" or element.value in (None, "", b""):
        return set()
    values = element.value if isinstance(element.value, pydicom.multival.MultiValue) else [element.value]
    return {str(value) for value in values if str(value)}


@pytest.fixture(scope="module")
def exported(identified_studies, tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    key = root / "key.csv"
    return identified_studies, export_dataset(identified_studies, root / "out", key_file=key), root / "out", key


def test_no_basic_profile_attribute_keeps_its_value_at_any_depth(exported):
    studies, result, out, _ = exported
    originals = {}
    for path in sorted(studies.glob("*.dcm")):
        for element in _elements(pydicom.dcmread(path)):
            if element.tag in BASIC_PROFILE_TAGS:
                originals.setdefault(element.tag, set()).update(_values(element))
    assert len(originals) > 15, "the fixture must carry identifying attributes, nested ones included"
    for image_id in result.exported:
        dataset = pydicom.dcmread(out / DICOM_FOLDER / f"{image_id}.dcm")
        for element in _elements(dataset):
            assert not element.tag.is_private, f"{image_id}: private {element.tag} survived"
            if element.tag in BASIC_PROFILE_TAGS:
                kept = _values(element) & originals.get(element.tag, set())
                assert not kept, f"{image_id}: {element.keyword or element.tag} kept {kept}"
        assert dataset.PatientIdentityRemoved == "YES"
        assert "Doe^Jane" not in str(dataset) and "MRN-0042" not in str(dataset)


def test_uids_are_remapped_consistently_and_labels_follow_their_images(exported):
    studies, result, out, key = exported
    assert oct(key.stat().st_mode & 0o777) == "0o600", "the key re-identifies: its owner only may read it"
    with key.open() as file:
        uid_key = {row["old"]: row["new"] for row in csv.DictReader(file) if row["kind"] == "uid"}
    for image_id in result.exported:
        dataset = pydicom.dcmread(out / DICOM_FOLDER / f"{image_id}.dcm")
        assert dataset.file_meta.MediaStorageSOPInstanceUID == dataset.SOPInstanceUID == image_id
        for keyword in ("StudyInstanceUID", "SeriesInstanceUID"):
            assert dataset.data_element(keyword).value in uid_key.values()
        old_id = next(old for old, new in uid_key.items() if new == image_id)
        original = read_label(studies / STUDIES_LABELS / f"{old_id}.nrrd") != 0
        # read_label with like= raises unless the label lies on exactly the exported image's grid.
        label = (
            read_label(out / LABEL_FOLDER / f"{image_id}.nrrd", like=read_cxr(out / DICOM_FOLDER / f"{image_id}.dcm"))
            != 0
        )
        np.testing.assert_array_equal(label, original)
        # The sample's own flaws (a 19-character Pixel Spacing, the fixture's bare Contributing Equipment) stay;
        # test_export_validity checks a valid source against no error at all.
        source_errors = set(dciodvfy_errors(studies / f"{old_id}.dcm"))
        assert set(dciodvfy_errors(out / DICOM_FOLDER / f"{image_id}.dcm")) <= source_errors, image_id
        # The fixture's Referenced Image Sequence names the image itself, and follows it.
        assert dataset.ReferencedImageSequence[0].ReferencedSOPInstanceUID == image_id


def test_manifest_and_rle_csv_describe_the_export_and_nothing_else(exported):
    _, result, out, _ = exported
    with (out / MANIFEST_NAME).open() as file:
        rows = list(csv.DictReader(file))
    assert tuple(rows[0]) == MANIFEST_COLUMNS
    assert [row["image_id"] for row in rows] == result.exported
    # The fixture's first image (with a pneumothorax) says text is burned into its pixels: refused, six exported.
    assert {row["burned_in_annotation"] for row in rows} == {"NO"} and len(rows) == 6
    assert sum(int(row["pneumothorax"]) for row in rows) == 5
    assert [reason for _, reason in result.skipped] == [BURNED_IN_TEXT]
    # The 7 SIIM images are 7 patients; a hospital's MRN-0042 on all of them makes one pseudonymous patient.
    assert len({row["patient"] for row in rows}) == 1 and rows[0]["patient"].startswith("ANON-")
    rles = read_siim_rle_csv(out / RLE_CSV_NAME)
    for row in rows:
        label = read_label(out / row["label"]) != 0
        np.testing.assert_array_equal(rle_decode(rles[row["image_id"]][0], *label.shape), label)
    text = (out / MANIFEST_NAME).read_text() + (out / RLE_CSV_NAME).read_text()
    assert "1.2.276.0.7230010" not in text, "an original UID leaked into the CSVs"


def test_the_key_file_is_written_only_when_asked_and_never_inside_the_export(identified_studies, tmp_path):
    result = export_dataset(identified_studies, tmp_path / "plain")
    assert result.key_file is None
    assert {path.name for path in (tmp_path / "plain").iterdir()} == {
        DICOM_FOLDER,
        LABEL_FOLDER,
        MANIFEST_NAME,
        RLE_CSV_NAME,
    }
    assert {path.name for path in (tmp_path / "plain" / DICOM_FOLDER).iterdir()} == {
        f"{i}.dcm" for i in result.exported
    }
    with pytest.raises(ValueError, match="inside the export"):
        export_dataset(identified_studies, tmp_path / "keyed", key_file=tmp_path / "keyed" / "key.csv")


def test_an_export_refuses_a_folder_that_is_not_empty(identified_studies, tmp_path):
    (tmp_path / "stale.txt").write_text("x")
    with pytest.raises(ValueError, match="not empty"):
        export_dataset(identified_studies, tmp_path)
