"""De-identify one DICOM dataset to the PS3.15 Annex E Basic Application Level Confidentiality Profile.

The profile's attribute table (Table E.1-1, with its D/Z/X/U actions) and the actions themselves come from
**dicom-anonymizer** (KitwareMedical), which ships the standard's table as data (edition ``PROFILE_EDITION``) and
works with pydicom 2 (MONAI Label 0.8.5 needs pydicom<3). It was chosen over the two others by what they remove
(docs/deidentification.md):

* dicognito replaces every name, UID, ID, address and date with plausible fakes but does not follow Table E.1-1: it
  keeps e.g. Patient's Age, Sex, Size and Weight, free-text comments and private tags (0.18+ needs pydicom 3).
* deid (pydicom/deid) removes by recipe; its pydicom-2 line (0.3.x) is frozen, 0.4 needs pydicom 3, and the recipe
  is ours to write and keep in step with the standard.
* dicom-anonymizer applies Table E.1-1 action by action and removes private tags, but only at the top level of a
  dataset, with random UIDs held in a process-wide dictionary. Both gaps are closed here: the profile is applied
  again inside every sequence item, and UIDs are remapped by a :class:`UidMap` of our own (deterministic within
  one export, so an image's label, SEG and references follow it). Patient ID, which the profile lets us replace by
  a dummy, becomes a pseudonym of the same kind, so images of one patient stay together (a patient must not be in
  both the training and the validation split).

Sequences follow the profile's actions as a whole, as PS3.15 E.3 reads them, where dicom-anonymizer would blank
their items' values (leaving Type 1 attributes such as Referenced SOP Class UID empty): U* (Referenced and Source
Image Sequence) keeps the items, whose instance UIDs the :class:`UidMap` remaps like everywhere else, so references
still point at the exported images; Z and X/Z leave zero items; X/D and X/Z/D remove the sequence (it is Type 3 in
the radiograph IODs).

Dates and times the profile lists are replaced by dummy values (``19000101``, ``000000.00``), not shifted: a
training export needs no dates, and a shift would keep intervals that can identify. dicom-anonymizer's dummy year
0001 is moved to 1900 because validators (dciodvfy) refuse a year with a leading zero.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

import pydicom
from dicomanonymizer import simpledicomanonymizer as annex_e
from dicomanonymizer.dicomfields_selector import dicom_anonymization_database_selector
from pydicom.sequence import Sequence

__all__ = [
    "BASIC_PROFILE_TAGS",
    "BURNED_IN_UNKNOWN",
    "PROFILE_EDITION",
    "UidMap",
    "basic_profile_rules",
    "burned_in_annotation",
    "deidentify_dataset",
]

# dicom-anonymizer's newest copy of Table E.1-1; the one list of profile attributes that the tests check too.
PROFILE_EDITION = "dicomfields_2026c"
_TABLE = dicom_anonymization_database_selector(PROFILE_EDITION)
# Repeating-group entries (4-tuples with masks) are handled by dicom-anonymizer itself; the test list is tags.
BASIC_PROFILE_TAGS = frozenset(pydicom.tag.Tag(*tag) for tag in _TABLE["ALL_TAGS"] if len(tag) == 2)
BURNED_IN_UNKNOWN = "not stated"
_PATIENT_ID = (0x0010, 0x0020)
# DCM 113100: "Basic Application Confidentiality Profile" (PS3.16 CID 7050), as PS3.15 E.1.1 asks to record.
_PROFILE_CODE = ("113100", "DCM", "Basic Application Confidentiality Profile")
# A UID is at most 64 characters (PS3.5 9.1); "2.25." takes 5 of them.
_UID_ROOT, _UID_LENGTH = "2.25.", 64
# dicom-anonymizer's dummy dates -> ours: validators refuse year 0001 (a leading zero), any fixed year serves.
_DUMMY_DATES = {"00010101": "19000101", "00010101010101.000000+0000": "19000101000000.000000+0000"}


@dataclass
class UidMap:
    """Old UID -> new UID, and old Patient ID -> pseudonym, the same for every file of one export.

    New UIDs are ``2.25.`` and the decimal integer of HMAC-SHA256(secret, old UID), its digits cut so that the
    UID has 64 characters at most; pseudonyms are ``ANON-`` and the first 16 hex digits of HMAC-SHA256(secret,
    Patient ID). The secret is drawn per export, so nobody can recompute the mapping without the key
    (:attr:`mapping` and :attr:`patients`, written only when asked), and two exports share no UID.

    Example:
        >>> uids = UidMap(secret="fixed-for-the-example")
        >>> uids.remap("1.2.3") == uids.remap("1.2.3") != UidMap(secret="another").remap("1.2.3")
        True
        >>> new = uids.remap("1.2.3")
        >>> new.startswith("2.25."), len(new) <= 64, new[5] != "0"
        (True, True, True)
        >>> uids.pseudonym("MRN-0042") == uids.pseudonym("MRN-0042") != uids.pseudonym("MRN-0043")
        True
    """

    secret: str = field(default_factory=lambda: secrets.token_hex(32), repr=False)
    mapping: dict[str, str] = field(default_factory=dict)
    patients: dict[str, str] = field(default_factory=dict)

    def pseudonym(self, patient_id: str) -> str:
        """The export's pseudonym for a Patient ID (an empty one stays empty)."""
        patient_id = str(patient_id)
        if patient_id and patient_id not in self.patients:
            self.patients[patient_id] = f"ANON-{self._digest(patient_id).hex()[:16]}"
        return self.patients.get(patient_id, "")

    def remap(self, uid: str) -> str:
        """The new UID for ``uid`` (an empty value stays empty)."""
        uid = str(uid)
        if not uid:
            return uid
        if uid not in self.mapping:
            # An integer's decimal digits start with a non-zero one, as a UID component must (PS3.5 9.1).
            number = str(int.from_bytes(self._digest(uid), "big"))
            self.mapping[uid] = _UID_ROOT + number[: _UID_LENGTH - len(_UID_ROOT)]
        return self.mapping[uid]

    def _digest(self, value: str) -> bytes:
        return hmac.new(self.secret.encode(), value.encode(), hashlib.sha256).digest()


def burned_in_annotation(dataset: pydicom.Dataset) -> str:
    """The image's Burned In Annotation: ``YES``, ``NO``, or ``"not stated"`` when absent, empty or another value.

    Example:
        >>> from pydicom.dataset import Dataset
        >>> dataset = Dataset()
        >>> burned_in_annotation(dataset)
        'not stated'
        >>> dataset.BurnedInAnnotation = "no"
        >>> burned_in_annotation(dataset)
        'NO'
    """
    value = str(dataset.get("BurnedInAnnotation", "") or "").strip().upper()
    return value if value in ("YES", "NO") else BURNED_IN_UNKNOWN


def basic_profile_rules(uids: UidMap) -> dict:
    """dicom-anonymizer's rules for Table E.1-1; U (UID) actions remap and Patient ID is pseudonymised by ``uids``.

    Sequences get the profile's action as a whole (see the module's description) and dummy dates are ours.
    """
    rules = {tag: _conformant(action) for tag, action in annex_e.initialize_actions(PROFILE_EDITION).items()}

    def remap_uid(dataset: pydicom.Dataset, tag) -> None:
        element = dataset.get(tag)
        if element is None or element.VR != "UI" or element.value is None:
            return
        values = element.value if isinstance(element.value, pydicom.multival.MultiValue) else None
        element.value = [uids.remap(value) for value in values] if values is not None else uids.remap(element.value)

    def pseudonymise(dataset: pydicom.Dataset, tag) -> None:
        element = dataset.get(tag)
        if element is not None:
            element.value = uids.pseudonym(element.value or "")

    for tag in _TABLE["U_TAGS"]:
        rules[tag] = remap_uid
    rules[_PATIENT_ID] = pseudonymise
    return rules


def _keep(dataset: pydicom.Dataset, tag) -> None:
    """U* on a sequence: its items stay; :func:`_apply_everywhere` remaps the instance UIDs inside them."""


def _no_items(dataset: pydicom.Dataset, tag) -> None:
    dataset[tag].value = Sequence()


def _remove(dataset: pydicom.Dataset, tag) -> None:
    del dataset[tag]


# The profile's action on a whole sequence, for the actions that dicom-anonymizer applies to every value inside.
_SEQUENCE_ACTIONS = {
    annex_e.delete_or_empty_or_replace_UID: _keep,
    annex_e.empty: _no_items,
    annex_e.delete_or_empty: _no_items,
    annex_e.delete_or_replace: _remove,
    annex_e.delete_or_empty_or_replace: _remove,
}


def _conformant(action):
    def apply(dataset: pydicom.Dataset, tag) -> None:
        element = dataset.get(tag)
        if element is not None and element.VR == "SQ" and action in _SEQUENCE_ACTIONS:
            _SEQUENCE_ACTIONS[action](dataset, tag)
            return
        action(dataset, tag)
        element = dataset.get(tag)
        if element is not None and element.VR in ("DA", "DT") and element.value in _DUMMY_DATES:
            element.value = _DUMMY_DATES[element.value]

    return apply


def deidentify_dataset(dataset: pydicom.Dataset, uids: UidMap) -> str:
    """De-identify ``dataset`` in place: Table E.1-1 at every nesting level, private tags removed, UIDs remapped.

    Also records the de-identification as PS3.15 E.1.1 asks (Patient Identity Removed, De-identification Method
    and its code) and keeps the file meta's SOP Instance UID in step with the dataset's.

    Args:
        dataset: a DICOM dataset as read by pydicom (with or without file meta).
        uids: the export's UID map.

    Returns:
        :func:`burned_in_annotation` before de-identification: pixels are not changed here, so an image with
        burned-in text must not be shared (the export refuses it).

    Example:
        >>> from pydicom.dataset import Dataset
        >>> dataset = Dataset()
        >>> dataset.PatientName, dataset.SOPInstanceUID = "Doe^Jane", "1.2.3"
        >>> deidentify_dataset(dataset, UidMap(secret="s"))
        'not stated'
        >>> "PatientName" in dataset and str(dataset.PatientName) == "Doe^Jane", dataset.PatientIdentityRemoved
        (False, 'YES')
    """
    burned_in = burned_in_annotation(dataset)
    rules = basic_profile_rules(uids)
    _apply_everywhere(dataset, rules)
    dataset.PatientIdentityRemoved = "YES"
    dataset.DeidentificationMethod = (
        f"PS3.15 E Basic Profile, dicom-anonymizer {PROFILE_EDITION}"  # LO: 64 characters at most
    )
    code = pydicom.Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = _PROFILE_CODE
    dataset.DeidentificationMethodCodeSequence = Sequence([code])
    # The profile's dummy dates carry no time line (PS3.3 C.7.6.1.1.6 names this case REMOVED).
    dataset.LongitudinalTemporalInformationModified = "REMOVED"
    file_meta = getattr(dataset, "file_meta", None)
    if file_meta is not None and "SOPInstanceUID" in dataset:
        file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    return burned_in


def _apply_everywhere(dataset: pydicom.Dataset, rules: dict) -> None:
    # Top level first: a sequence the profile removes is gone before its items would be visited.
    annex_e.anonymize_dataset(dataset, extra_anonymization_rules=None, base_rules_gen=lambda: dict(rules))
    for element in list(dataset):
        if element.VR == "SQ" and element.value is not None:
            for item in element.value:
                _apply_everywhere(item, rules)
