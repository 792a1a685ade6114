"""``deidentify_dataset``: the profile inside sequences, and references (as a SEG holds them) follow their images."""

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from ptxseg.datasets.deidentify import BASIC_PROFILE_TAGS, UidMap, deidentify_dataset


def _image(uid: str) -> Dataset:
    dataset = Dataset()
    dataset.SOPInstanceUID, dataset.PatientName, dataset.PatientAge = uid, "Doe^Jane", "053Y"
    return dataset


def test_references_in_nested_sequences_map_to_the_referenced_images_new_uid():
    uids = UidMap()
    image, segmentation = _image("1.2.3.4"), _image("1.2.3.5")
    instance = Dataset()
    instance.ReferencedSOPInstanceUID = "1.2.3.4"
    series = Dataset()
    series.ReferencedInstanceSequence = Sequence([instance])
    segmentation.ReferencedSeriesSequence = Sequence([series])
    deidentify_dataset(image, uids)
    deidentify_dataset(segmentation, uids)
    assert image.SOPInstanceUID != "1.2.3.4"
    assert segmentation.ReferencedSeriesSequence[0].ReferencedInstanceSequence[0].ReferencedSOPInstanceUID == (
        image.SOPInstanceUID
    )


def test_the_profile_reaches_into_sequences_the_library_leaves_alone():
    dataset = _image("1.2.3.4")
    equipment = Dataset()
    equipment.InstitutionName, equipment.Manufacturer = "St. Example General", "ACME"
    dataset.ContributingEquipmentSequence = Sequence([equipment])
    assert equipment.data_element("InstitutionName").tag in BASIC_PROFILE_TAGS
    deidentify_dataset(dataset, UidMap())
    nested = dataset.ContributingEquipmentSequence[0]
    assert nested.get("InstitutionName") != "St. Example General" and nested.Manufacturer == "ACME"
    assert "PatientAge" not in dataset and str(dataset.get("PatientName", "")) != "Doe^Jane"


def test_two_exports_do_not_share_uids():
    assert UidMap().remap("1.2.3.4") != UidMap().remap("1.2.3.4")
