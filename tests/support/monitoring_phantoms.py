"""Phantom DICOMs from chosen "stations", recorded as a served model would record them (no model needed), and an
app folder with such records and a model timeline."""

from datetime import datetime, timedelta, timezone

import numpy as np
import pydicom

from ptxseg.io.reader import read_cxr
from ptxseg.io.writers import quantize, write_dicom
from ptxseg.phantom.synthetic import make_phantom
from ptxseg.serving.monitoring.store import MonitorStore
from ptxseg.serving.store import ModelRecord, ModelStore

# Monday of ISO week 2026-W40; a week's records are spread over its first days.
WEEK_ONE = datetime(2026, 9, 28, 8, tzinfo=timezone.utc)


def week(number: int, hour: int = 0) -> datetime:
    """A time in the ``number``-th week after WEEK_ONE (0 = WEEK_ONE's week)."""
    return WEEK_ONE + timedelta(weeks=number, hours=hour)


def write_station_images(folder, n, seed, station="XR-ROOM-1", gain=1.0, offset=0.0):
    """``n`` 64 px phantom DICOMs from ``station``; ``gain``/``offset`` change the intensity profile."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for index in range(n):
        phantom = make_phantom(size=64, positive=index % 2 == 0, seed=seed + index)
        pixels = quantize(np.clip(phantom.image * gain + offset, 0, 1))
        path = write_dicom(pixels, folder / f"{station}-{seed + index}.dcm")
        dataset = pydicom.dcmread(path)
        dataset.StationName, dataset.Manufacturer = station, "ACME"
        dataset.save_as(path)
        written.append((path.stem, path, phantom))
    return written


def record_batch(store, images, when, model_version=1):
    """Record each image as inferred: a mask one column off the truth, probability from the truth plus noise."""
    rng = np.random.default_rng(len(images))
    for hour, (image_id, path, phantom) in enumerate(images):
        probability = float(np.clip(0.7 * phantom.mask.any() + rng.uniform(0, 0.3), 0, 1))
        mask = np.roll(phantom.mask, 1, axis=1)
        store.record_inference(
            image_id,
            path,
            read_cxr(path),
            mask,
            probability=probability,
            flag=probability >= 0.5,
            model_version=model_version,
            latency_ms=12.5,
            time=when + timedelta(hours=hour),
        )


HISTORY = [
    {"event": "ptxseg export", "validation_dice": 0.71, "promoted": True, "reason": "installed", "version": 1},
    {"champion_dice": 0.71, "challenger_dice": 0.69, "promoted": False, "reason": "challenger worse", "version": 1},
    {"champion_dice": 0.71, "challenger_dice": 0.74, "promoted": True, "reason": "challenger better", "version": 2},
]


def write_monitored_app(root):
    """An app folder: a model record with a promotion, a refusal and a promotion, and two weeks of records."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "main.py").write_text("")  # what makes a folder an app (ptxseg.serving.install.app_model_dir)
    ModelStore(root / "model").write_record(ModelRecord(version=2, trained=True, validation_dice=0.74, history=HISTORY))
    store = MonitorStore.for_app(root)
    record_batch(store, write_station_images(root / "images" / "0", 20, seed=0), week(0), model_version=2)
    later = write_station_images(root / "images" / "1", 12, seed=50, station="PORTABLE-2")
    record_batch(store, later, week(1), model_version=2)
    for hour, (image_id, _, phantom) in enumerate(later[:4]):
        store.record_label(image_id, phantom.mask, time=week(1, hour=30 + hour))
    return store
