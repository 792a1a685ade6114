"""Drift alerts and agreement on phantoms: a shifted batch or another station alerts, an unshifted one does not."""

import numpy as np
import pytest

from ptxseg.datasets.siim import rle_decode
from ptxseg.serving.monitoring.analysis import analyse
from ptxseg.serving.monitoring.store import MonitorStore
from tests.support.monitoring_phantoms import record_batch, week, write_station_images


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """A store whose model (version 1) saw 30 phantoms of XR-ROOM-1 in its first week."""
    root = tmp_path_factory.mktemp("monitoring")
    store = MonitorStore(root / "monitoring")
    record_batch(store, write_station_images(root / "week0", 30, seed=0), week(0))
    return root, store


def _copy(root, store, name):
    """A store holding the baseline's records, to add one scenario's week to."""
    copy = MonitorStore(root / name)
    copy.directory.mkdir()
    for path in store.directory.iterdir():
        (copy.directory / path.name).write_bytes(path.read_bytes())
    return copy


def test_an_unshifted_week_keeps_the_alert_off(baseline):
    root, store = baseline
    scenario = _copy(root, store, "unshifted")
    record_batch(scenario, write_station_images(root / "same", 20, seed=100), week(1))
    analysis = analyse(scenario.records())
    assert analysis["baseline"]["model_version"] == 1 and analysis["baseline"]["period"] == "2026-W40"
    assert analysis["baseline"]["images"] == 30
    assert [period["period"] for period in analysis["periods"]] == ["2026-W40", "2026-W41"]
    assert analysis["alert"]["state"] == "ok", analysis["alert"]


def test_a_changed_intensity_profile_raises_the_drift_alert(baseline):
    root, store = baseline
    scenario = _copy(root, store, "brighter")
    record_batch(scenario, write_station_images(root / "bright", 20, seed=200, gain=0.6, offset=0.35), week(1))
    alert = analyse(scenario.records())["alert"]
    assert alert["state"] == "drift" and alert["period"] == "2026-W41"
    assert any("intensity_mean drifted" in reason for reason in alert["reasons"]), alert


def test_another_station_raises_the_alert_and_is_reported_as_its_own_source(baseline):
    root, store = baseline
    scenario = _copy(root, store, "portable")
    record_batch(scenario, write_station_images(root / "portable", 12, seed=300, station="PORTABLE-2"), week(1))
    analysis = analyse(scenario.records())
    assert analysis["alert"]["state"] == "drift"
    assert any("station 'PORTABLE-2' unseen" in reason for reason in analysis["alert"]["reasons"])
    stations = analysis["periods"][-1]["sources"]["station"]
    assert stations["PORTABLE-2"]["seen_in_baseline"] is False and stations["PORTABLE-2"]["images"] == 12


def test_agreement_equals_dice_computed_by_hand_from_the_stored_masks(baseline):
    root, store = baseline
    scenario = _copy(root, store, "labelled")
    images = write_station_images(root / "labelled", 10, seed=400)
    record_batch(scenario, images, week(1))
    for hour, (image_id, _, phantom) in enumerate(images[:8]):
        scenario.record_label(image_id, phantom.mask, time=week(1, hour=40 + hour))
    early_id, _, early = images[9]
    scenario.record_label(early_id, early.mask, time=week(0))  # before its prediction: not an agreement pair
    records = scenario.records()
    by_hand, flags, truths = [], [], []
    for label in (record for record in records if record["kind"] == "label" and record["time"] > week(1).isoformat()):
        prediction = next(r for r in records if r["kind"] == "inference" and r["image"] == label["image"])
        truth, predicted = rle_decode(label["label"], *label["shape"]), rle_decode(prediction["mask"], *label["shape"])
        total = truth.sum() + predicted.sum()
        by_hand.append(1.0 if total == 0 else 2 * (truth & predicted).sum() / total)
        flags.append(prediction["flag"])
        truths.append(truth.any())
    agreement = analyse(records)["periods"][-1]["agreement"]
    assert agreement["images"] == 8
    assert agreement["mean_dice"] == pytest.approx(np.mean(by_hand))
    flags, truths = np.array(flags), np.array(truths)
    assert agreement["sensitivity"] == pytest.approx((flags & truths).sum() / truths.sum())
    assert agreement["specificity"] == pytest.approx((~flags & ~truths).sum() / (~truths).sum())
    station = analyse(records)["periods"][-1]["sources"]["station"]["XR-ROOM-1"]["agreement"]
    assert station["mean_dice"] == pytest.approx(np.mean(by_hand))


def test_a_first_week_too_small_for_a_baseline_says_so_and_the_next_full_week_becomes_it(tmp_path):
    store = MonitorStore(tmp_path / "monitoring")
    record_batch(store, write_station_images(tmp_path / "few", 3, seed=0), week(0))
    analysis = analyse(store.records())
    assert analysis["baseline"] is None and analysis["alert"]["state"] == "not enough data yet"
    assert "3 images so far" in analysis["alert"]["reasons"][0]

    record_batch(store, write_station_images(tmp_path / "enough", 12, seed=1), week(1))
    record_batch(store, write_station_images(tmp_path / "later", 12, seed=2, gain=0.6, offset=0.35), week(2))
    analysis = analyse(store.records())
    assert analysis["baseline"]["period"] == "2026-W41" and analysis["baseline"]["images"] == 12
    assert analysis["alert"]["state"] == "drift", analysis["alert"]
