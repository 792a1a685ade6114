"""``ptxseg export-dataset --dicomweb``: the PACS's labelled instances (final labels as MANUAL SEGs), de-identified."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from ptxseg.cli.main import main
from ptxseg.io.labels import read_label
from ptxseg.io.reader import read_cxr
from ptxseg.io.seg import correction_seg
from tests.support.orthanc import PASSWORD, USER, Orthanc, require_orthanc

pytestmark = pytest.mark.server


@pytest.fixture
def pacs_environment(monkeypatch):
    """The command exports the PACS settings to its own environment: keep them from leaking into other tests."""
    for name in ("PTXSEG_DICOMWEB_URL", "PTXSEG_DICOMWEB_USER", "PTXSEG_DICOMWEB_CA_BUNDLE"):
        monkeypatch.setenv(name, "")
    monkeypatch.setenv("PTXSEG_DICOMWEB_PASSWORD", PASSWORD)


def test_the_labelled_instances_of_a_pacs_are_exported_de_identified(siim_sample, tmp_path, pacs_environment, capsys):
    require_orthanc()
    orthanc = Orthanc(tmp_path / "orthanc").start()
    try:
        dicoms = sorted((siim_sample / "dicom").glob("*.dcm"))[:2]
        for path in dicoms:
            orthanc.upload(path)
        source = pydicom.dcmread(dicoms[0])
        mask = np.zeros((source.Rows, source.Columns), bool)
        mask[200:400, 100:300] = True
        correction_seg(source, mask, annotator="Reader^Ann").save_as(tmp_path / "label-seg.dcm")
        orthanc.upload(tmp_path / "label-seg.dcm")
        out = tmp_path / "export"

        status = main(["export-dataset", "--dicomweb", orthanc.dicomweb, "--dicomweb-user", USER, "--out", str(out)])
        assert status == 2 and "pass --deidentify" in capsys.readouterr().err
        arguments = ["export-dataset", "--dicomweb", orthanc.dicomweb, "--dicomweb-user", USER, "--out", str(out)]
        assert main([*arguments, "--deidentify", "--assume-no-burned-in"]) == 0  # SIIM files do not say
    finally:
        orthanc.stop()

    assert "1 labelled instances" in capsys.readouterr().out
    (exported,) = sorted((out / "dicom").glob("*.dcm"))
    image = read_cxr(exported)
    assert np.array_equal(read_label(out / "labels" / f"{exported.stem}.nrrd", like=image).astype(bool), mask)
    header = pydicom.dcmread(exported)
    assert header.SOPInstanceUID != source.SOPInstanceUID and header.PatientID != source.PatientID
    assert exported.stem in (out / "train-rle.csv").read_text()
