"""ptxseg's DICOMweb studies on a real Orthanc: CR/DX served one per instance (a CT is not), every result page read,
each image fetched once, a submitted label stored in the PACS as a valid SEG, labels made in the PACS imported,
and an outage reported with its reason and made good when the PACS is back."""

import time

import numpy as np
import pydicom
import pytest

from ptxseg.io.labels import read_label, write_label
from ptxseg.io.reader import read_cxr
from ptxseg.io.seg import correction_seg, read_seg
from ptxseg.serving.dicomweb.client import PacsAuth, PacsClient, PacsUnavailable
from ptxseg.serving.dicomweb.studies import PacsStudies
from tests.support.dciodvfy import dciodvfy_errors
from tests.support.orthanc import Orthanc, require_orthanc
from tests.support.pacs_images import write_cr_phantom, write_ct, write_dx_monochrome1_jpeg2000
from tests.support.paging_proxy import PagingProxy


@pytest.fixture(scope="module")
def pacs(tmp_path_factory, siim_sample):
    require_orthanc()
    folder = tmp_path_factory.mktemp("pacs")
    orthanc = Orthanc(folder / "orthanc").start()
    try:
        uids = {"siim": []}
        for path in sorted((siim_sample / "dicom").glob("*.dcm")):
            orthanc.upload(path)
            uids["siim"].append(path.stem)
        for name, writer in (("cr", write_cr_phantom), ("dx", write_dx_monochrome1_jpeg2000), ("ct", write_ct)):
            path = writer(folder / f"{name}.dcm")
            orthanc.upload(path)
            uids[name] = pydicom.dcmread(path).SOPInstanceUID
        with PagingProxy(orthanc.url, page_size=2) as proxy:
            yield orthanc, proxy, uids
    finally:
        orthanc.stop()


def _studies(url, folder, **options) -> PacsStudies:
    return PacsStudies(PacsClient(url, PacsAuth("ptxseg", "pacs-test-password"), timeout_s=5), folder, **options)


def test_cr_and_dx_are_served_from_every_page_and_ct_is_not(pacs, tmp_path):
    orthanc, proxy, uids = pacs
    before = proxy.requests["search"]
    served = _studies(proxy.dicomweb, tmp_path).list_images()

    assert sorted(served) == sorted([*uids["siim"], uids["cr"], uids["dx"]])
    assert proxy.requests["search"] - before > 3  # 9 CR/DX in pages of 2: the later pages were read
    assert uids["ct"] not in served


def test_an_image_is_fetched_once_and_read_on_its_grid(pacs, tmp_path):
    orthanc, proxy, uids = pacs
    studies = _studies(proxy.dicomweb, tmp_path)
    before = proxy.requests["retrieve"]
    first = studies.get_image_uri(uids["dx"])
    again = studies.get_image_uri(uids["dx"])

    assert first == again and proxy.requests["retrieve"] - before == 1
    image = read_cxr(first)
    assert image.metadata["photometric_interpretation"] == "MONOCHROME1" and image.shape == (96, 96)


def test_a_submitted_label_lands_in_the_pacs_as_a_valid_seg(pacs, tmp_path):
    orthanc, proxy, uids = pacs
    studies = _studies(orthanc.dicomweb, tmp_path / "state")
    image_id = uids["siim"][0]
    image = read_cxr(studies.get_image_uri(image_id))
    mask = np.zeros(image.shape, bool)
    mask[100:300, 600:700] = True
    upload = write_label(mask, like=image, path=tmp_path / "upload.nrrd")

    studies.save_label(image_id, str(upload), "final", {"annotator": "Smith^Anna"})

    segs = [seg for seg in orthanc.instances("SEG") if seg.get("ContentLabel") == "PTX_MANUAL"]
    stored = [orthanc.file(seg["id"]) for seg in segs]
    (tmp_path / "seg.dcm").write_bytes(stored[-1])
    content = read_seg(tmp_path / "seg.dcm")
    assert content.referenced_sop_instance_uid == image_id
    assert np.array_equal(content.mask, mask)
    assert (content.algorithm_type, content.annotator) == ("MANUAL", "Smith^Anna")
    assert dciodvfy_errors(tmp_path / "seg.dcm") == []
    assert image_id in studies.get_labeled_images()
    assert np.array_equal(read_label(studies.get_label_uri(image_id, "final"), like=image), mask)

    studies.save_label(image_id, str(upload), "final", {"annotator": "Smith^Anna"})  # a client's retry
    assert len([seg for seg in orthanc.instances("SEG") if seg.get("ContentLabel") == "PTX_MANUAL"]) == len(segs)


def test_a_label_made_in_the_pacs_is_a_label_for_training(pacs, tmp_path):
    orthanc, proxy, uids = pacs
    source = pydicom.dcmread(orthanc_file(orthanc, uids["cr"]))
    mask = np.zeros((source.Rows, source.Columns), bool)
    mask[10:40, 5:20] = True
    (tmp_path / "pacs-seg.dcm").parent.mkdir(exist_ok=True)
    correction_seg(source, mask, annotator="Other^Reader").save_as(tmp_path / "pacs-seg.dcm")
    orthanc.upload(tmp_path / "pacs-seg.dcm")

    studies = _studies(orthanc.dicomweb, tmp_path / "state")
    assert uids["cr"] in studies.get_labeled_images()
    label = read_label(studies.get_label_uri(uids["cr"], "final"))
    assert np.array_equal(label.astype(bool), mask)


def test_another_tools_lung_seg_is_not_a_pneumothorax_label(pacs, tmp_path, caplog):
    orthanc, _, uids = pacs
    image = uids["siim"][-1]
    source = pydicom.dcmread(orthanc_file(orthanc, image))
    correction_seg(source, np.ones((source.Rows, source.Columns), bool), annotator="Lung^Tool").save_as(
        tmp_path / "lung-seg.dcm"
    )
    lung = pydicom.dcmread(tmp_path / "lung-seg.dcm")
    kind = lung.SegmentSequence[0].SegmentedPropertyTypeCodeSequence[0]
    kind.CodeValue, kind.CodeMeaning = "39607008", "Lung"
    lung.save_as(tmp_path / "lung-seg.dcm")
    orthanc.upload(tmp_path / "lung-seg.dcm")

    with caplog.at_level("INFO", logger="ptxseg.serving.dicomweb.studies"):
        studies = _studies(orthanc.dicomweb, tmp_path / "state")
        assert image not in studies.get_labeled_images()
    assert "not Pneumothorax (SCT 36118008)" in caplog.text and str(source.PatientName) not in caplog.text


def orthanc_file(orthanc, sop_uid):
    found = next(item for item in orthanc.instances() if item.get("SOPInstanceUID") == sop_uid)
    path = orthanc.folder / f"{sop_uid}.dcm"
    path.write_bytes(orthanc.file(found["id"]))
    return path


def test_an_outage_is_a_clear_error_and_nothing_is_lost(tmp_path, siim_sample):
    require_orthanc()
    orthanc = Orthanc(tmp_path / "orthanc").start()
    try:
        cached_path = write_cr_phantom(tmp_path / "a.dcm", seed=3)
        other_path = write_cr_phantom(tmp_path / "b.dcm", seed=4)
        orthanc.upload(cached_path)
        orthanc.upload(other_path)
        cached, other = pydicom.dcmread(cached_path).SOPInstanceUID, pydicom.dcmread(other_path).SOPInstanceUID
        studies = _studies(orthanc.dicomweb, tmp_path / "state", refresh_s=0)
        image = read_cxr(studies.get_image_uri(cached))
        upload = write_label(image.pixels > 0.5, like=image, path=tmp_path / "upload.nrrd")

        orthanc.stop()
        started = time.monotonic()
        with pytest.raises(PacsUnavailable, match="unreachable"):
            studies.get_image_uri(other)
        assert time.monotonic() - started < 10
        assert read_cxr(studies.get_image_uri(cached)).shape == image.shape  # the cache still serves
        with pytest.raises(PacsUnavailable, match="the label is kept"):
            studies.save_label(cached, str(upload), "final", {"annotator": "Smith^Anna"})
        assert "unreachable" in studies.status()["pacs_error"]

        orthanc.start()
        studies.refresh(force=True)
        assert studies.status()["waiting_segs"] == 0
        assert len(orthanc.instances("SEG")) == 1
    finally:
        orthanc.stop()


def test_wrong_credentials_are_a_clear_error(pacs):
    orthanc, proxy, uids = pacs
    with pytest.raises(PacsUnavailable, match="refused the credentials"):
        PacsClient(orthanc.dicomweb, PacsAuth("ptxseg", "wrong"), timeout_s=5).check()
