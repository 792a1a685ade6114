"""The monitoring store: restarts keep the history, a torn line costs one record, and nothing identifies a patient."""

import json

import numpy as np
import pydicom

from ptxseg.io.reader import read_cxr
from ptxseg.io.source import SOURCE_ATTRIBUTES
from ptxseg.serving.monitoring.analysis import analyse
from ptxseg.serving.monitoring.store import INFERENCE_FIELDS, LABEL_FIELDS, MonitorStore
from tests.support.identified_dicom import PATIENT, add_identifying_attributes
from tests.support.monitoring_phantoms import record_batch, week, write_station_images


def test_a_restarted_store_keeps_the_history_and_the_image_keys(tmp_path):
    images = write_station_images(tmp_path / "images", 3, seed=0)
    first = MonitorStore(tmp_path / "monitoring")
    record_batch(first, images, week(0))
    restarted = MonitorStore(tmp_path / "monitoring")
    assert restarted.image_key(images[0][0]) == first.image_key(images[0][0])
    restarted.record_label(images[0][0], images[0][2].mask, time=week(1))
    assert [record["kind"] for record in restarted.records()] == ["inference"] * 3 + ["label"]
    assert analyse(restarted.records())["periods"][0]["agreement"]["images"] == 1


def test_a_line_torn_by_a_crash_is_skipped_and_the_next_record_still_lands(tmp_path):
    store = MonitorStore(tmp_path / "monitoring")
    store.record_label("a", np.zeros((4, 4)), time=week(0))
    with store.records_path.open("a") as file:
        file.write('{"kind": "label", "ti')  # the process died mid-write
    MonitorStore(store.directory).record_label("b", np.ones((4, 4)), time=week(0))
    records = MonitorStore(store.directory).records()
    assert [record["image"] for record in records] == [store.image_key("a"), store.image_key("b")]


def test_records_of_real_dicoms_hold_nothing_that_identifies_the_patient(siim_sample, tmp_path):
    store = MonitorStore(tmp_path / "monitoring")
    for source in sorted((siim_sample / "dicom").glob("*.dcm")):
        path = tmp_path / source.name
        path.write_bytes(source.read_bytes())
        add_identifying_attributes(path, burned_in=False)
        image = read_cxr(path)
        store.record_inference(path.stem, path, image, image.pixels > 0.9, probability=0.4, flag=False, model_version=1)
        store.record_label(path.stem, image.pixels > 0.8)
    header = pydicom.dcmread(path)
    text = store.records_path.read_text()
    # Station Name identifies a device or site, not a patient: it is the one kept (ptxseg.io.source).
    for keyword, value in PATIENT.items():
        assert (value in text) == (keyword == "StationName"), keyword
    for value in (header.SOPInstanceUID, header.StudyInstanceUID, header.SeriesInstanceUID, path.stem, "OLD-MRN-7"):
        assert value not in text
    for record in map(json.loads, text.splitlines()):
        assert set(record) == set(INFERENCE_FIELDS if record["kind"] == "inference" else LABEL_FIELDS)
        if record["kind"] == "inference":
            assert set(record["source"]) == set(SOURCE_ATTRIBUTES)
    assert sorted(path.name for path in store.directory.iterdir()) == ["image-key.salt", "records.jsonl"]
