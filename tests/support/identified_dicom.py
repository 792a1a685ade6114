"""DICOM headers as a hospital's carry: identifying attributes at the top level and nested, a private tag."""

import pydicom
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

# Values a hospital's header holds (the SIIM sample's own are already scrubbed), at the top level and nested.
PATIENT = {
    "PatientName": "Doe^Jane",
    "PatientID": "MRN-0042",
    "PatientBirthDate": "19610203",
    "AccessionNumber": "ACC-77",
    "InstitutionName": "St. Example General",
    "StationName": "XR-ROOM-3",
    "ReferringPhysicianName": "House^Gregory",
    "StudyTime": "101112",
    "OperatorsName": "Smith^Ann",
    "DeviceSerialNumber": "SN-99",
}


def add_identifying_attributes(path, burned_in: bool) -> None:
    """Write PATIENT's values, a nested patient id, nested equipment, a reference and a private tag into a DICOM."""
    dataset = pydicom.dcmread(path)
    for keyword, value in PATIENT.items():
        setattr(dataset, keyword, value)
    other = Dataset()
    other.PatientID, other.IssuerOfPatientID = "OLD-MRN-7", "St. Example"
    dataset.OtherPatientIDsSequence = Sequence([other])
    equipment = Dataset()
    equipment.InstitutionName, equipment.StationName, equipment.Manufacturer = "Other Site", "PORTABLE-2", "ACME"
    dataset.ContributingEquipmentSequence = Sequence([equipment])
    reference = Dataset()
    reference.ReferencedSOPClassUID = dataset.SOPClassUID
    reference.ReferencedSOPInstanceUID = dataset.SOPInstanceUID
    dataset.ReferencedImageSequence = Sequence([reference])
    dataset.private_block(0x0009, "ACME HOSPITAL", create=True).add_new(0x01, "LO", "Doe^Jane at ward 5")
    dataset.BurnedInAnnotation = "YES" if burned_in else "NO"
    dataset.save_as(path)
