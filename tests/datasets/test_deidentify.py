"""``deidentify_dataset``: the profile inside sequences, and references (as a SEG holds them) follow their images."""

import hashlib
import hmac

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


def test_new_uids_are_the_hmac_of_the_old_uid_under_the_secret_cut_to_64_characters():
    digest = hmac.new(b"key", b"1.2.3.4", hashlib.sha256).digest()
    expected = "2.25." + str(int.from_bytes(digest, "big"))[:59]
    assert UidMap(secret="key").remap("1.2.3.4") == expected and len(expected) == 64
    assert UidMap(secret="key").remap("1.2.3.4") == expected != UidMap(secret="other key").remap("1.2.3.4")
    new = {UidMap(secret="key").remap(f"1.2.{n}") for n in range(200)}
    assert len(new) == 200 and all(len(uid) <= 64 and uid[5] != "0" for uid in new)


def test_sequences_get_the_profiles_action_as_a_whole_not_blanked_items():
    image = _image("1.2.3.4")
    source, study, operator = Dataset(), Dataset(), Dataset()
    source.ReferencedSOPClassUID, source.ReferencedSOPInstanceUID = "1.2.840.10008.5.1.4.1.1.7", "1.2.3.3"
    study.ReferencedSOPClassUID, study.ReferencedSOPInstanceUID = "1.2.840.10008.3.1.2.3.1", "1.2.3.1"
    operator.PersonIdentificationCodeSequence = Sequence([Dataset()])
    image.SourceImageSequence = Sequence([source])  # U*: kept, its instance UID remapped
    image.ReferencedStudySequence = Sequence([study])  # X/Z: zero items
    image.OperatorIdentificationSequence = Sequence([operator])  # X/D: removed (Type 3)
    uids = UidMap()
    deidentify_dataset(image, uids)
    kept = image.SourceImageSequence[0]
    assert kept.ReferencedSOPInstanceUID == uids.remap("1.2.3.3") and kept.ReferencedSOPClassUID == (
        "1.2.840.10008.5.1.4.1.1.7"
    )
    assert len(image.ReferencedStudySequence) == 0 and "OperatorIdentificationSequence" not in image
