"""A studies folder of the 7 real SIIM DICOMs with identifying attributes added, as a hospital's would carry."""

import pytest

from ptxseg.datasets.siim_studies import convert_siim
from tests.support.identified_dicom import add_identifying_attributes


@pytest.fixture(scope="session")
def identified_studies(siim_sample, tmp_path_factory):
    """The SIIM sample as a studies folder whose headers identify the patient; the first has burned-in text."""
    studies = tmp_path_factory.mktemp("identified-studies")
    conversion = convert_siim(siim_sample / "dicom", siim_sample / "train-rle.csv", studies)
    for index, uid in enumerate(conversion.converted):
        add_identifying_attributes(studies / f"{uid}.dcm", burned_in=index == 0)
    return studies
