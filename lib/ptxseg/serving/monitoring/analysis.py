"""From monitoring records to numbers: per period and per source, input drift against the promotion period and
agreement of the model with the annotators' final labels.

* **Baseline**: the inferences of the served model's version in the first period it served with at least
  ``min_samples`` images (the period it was promoted on, when that one had enough). A new model version starts a
  new baseline; until one has enough images the alert is ``not enough data yet``, never ``ok``.
* **Drift**: every period, overall and per source value (station, manufacturer, model, view position, modality), is
  compared with the baseline (of the same source value) by ``ks_drift`` on the image-level probability and the
  image's mean and spread of intensity. A source value the baseline never saw is "unseen".
* **Agreement**: for every image a human labelled after the model predicted it, the Kaggle per-image Dice of the
  last prediction before the label against the label, and the flag's sensitivity/specificity against "the label has
  a pneumothorax"; grouped by the prediction's period and source.
* **Alert** (the last period): ``drift`` when a drift test fires or a source unseen in the baseline brings at least
  ``min_samples`` images; else ``ok``; ``no data`` before the first inference; ``not enough data yet`` while the
  served version has no baseline.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from ptxseg.datasets.siim import rle_decode
from ptxseg.evaluation.drift import ks_drift
from ptxseg.evaluation.metrics import image_level_metrics, per_image_dice
from ptxseg.io.source import SOURCE_ATTRIBUTES, UNKNOWN_SOURCE

__all__ = ["DEFAULT_CONFIG", "DRIFT_METRICS", "NOT_ENOUGH_DATA", "MonitorConfig", "analyse", "period_of"]

# Metric name -> how to read it from an inference record.
DRIFT_METRICS = {
    "probability": lambda record: record["probability"],
    "intensity_mean": lambda record: record["stats"]["mean"],
    "intensity_std": lambda record: record["stats"]["std"],
}
PERIODS = ("week", "day")
NOT_ENOUGH_DATA = "not enough data yet"
LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class MonitorConfig:
    """How records are grouped and when drift alerts (see ``ptxseg.evaluation.drift.ks_drift``).

    Example:
        >>> MonitorConfig(period="day").period
        'day'
    """

    period: str = "week"
    threshold: float = 0.3
    alpha: float = 0.01
    min_samples: int = 10

    def __post_init__(self):
        if self.period not in PERIODS:
            raise ValueError(f"monitoring period {self.period!r} is not one of {', '.join(PERIODS)}")


DEFAULT_CONFIG = MonitorConfig()


def period_of(time: str, period: str = "week") -> str:
    """The period an ISO time falls in: ISO week (``2026-W49``) or day (``2026-12-01``).

    Example:
        >>> period_of("2026-12-01T10:00:00+00:00"), period_of("2026-12-01T10:00:00+00:00", "day")
        ('2026-W49', '2026-12-01')
    """
    moment = datetime.fromisoformat(time)
    if period == "day":
        return moment.date().isoformat()
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def analyse(records: list[dict], config: MonitorConfig = DEFAULT_CONFIG) -> dict:
    """Baseline, per-period drift and agreement, and the alert, as a JSON-ready dict (see the module docstring).

    Example:
        >>> analyse([])["alert"]["state"]
        'no data'
    """
    # Copies: the period is added to each record here, the caller's records stay as stored.
    inferences = [
        {**record, "period": period_of(record["time"], config.period)}
        for record in records
        if record["kind"] == "inference"
    ]
    if not inferences:
        return {
            "config": config.__dict__,
            "baseline": None,
            "periods": [],
            "alert": {"state": "no data", "reasons": []},
        }
    version = inferences[-1]["model_version"]
    baseline_period = _baseline_period([r["period"] for r in inferences if r["model_version"] == version], config)
    baseline = [r for r in inferences if r["model_version"] == version and r["period"] == baseline_period]
    pairs = _labelled_pairs(inferences, records)
    periods = []
    for period in sorted({record["period"] for record in inferences}):
        current = [record for record in inferences if record["period"] == period]
        periods.append(
            {
                "period": period,
                "model_versions": sorted({record["model_version"] for record in current}),
                **_group(baseline, current, [pair for pair in pairs if pair["period"] == period], config),
                "sources": _sources(baseline, current, pairs, period, config),
            }
        )
    if baseline_period is None:
        served = sum(record["model_version"] == version for record in inferences)
        reason = (
            f"model version {version}: {served} images so far, no {config.period} with the {config.min_samples} "
            "a drift baseline needs"
        )
        return {
            "config": config.__dict__,
            "baseline": None,
            "periods": periods,
            "alert": {"state": NOT_ENOUGH_DATA, "reasons": [reason], "period": periods[-1]["period"]},
        }
    return {
        "config": config.__dict__,
        "baseline": {
            "model_version": version,
            "period": baseline_period,
            "images": len(baseline),
            "flag_rate": float(np.mean([record["flag"] for record in baseline])),
        },
        "periods": periods,
        "alert": _alert(periods[-1], config),
    }


def _group(baseline: list[dict], current: list[dict], pairs: list[dict], config: MonitorConfig) -> dict:
    options = {"threshold": config.threshold, "alpha": config.alpha, "min_samples": config.min_samples}
    drift = {
        name: ks_drift([read(r) for r in baseline], [read(r) for r in current], **options).to_dict()
        for name, read in DRIFT_METRICS.items()
    }
    return {
        "images": len(current),
        "flag_rate": float(np.mean([record["flag"] for record in current])) if current else None,
        "probability_mean": float(np.mean([record["probability"] for record in current])) if current else None,
        "intensity_mean": float(np.mean([record["stats"]["mean"] for record in current])) if current else None,
        "drift": drift,
        "drifted": any(test["drifted"] for test in drift.values()),
        "agreement": _agreement(pairs),
    }


def _sources(baseline, current, pairs, period, config) -> dict:
    sources = {}
    for attribute in SOURCE_ATTRIBUTES:
        by_value = defaultdict(list)
        for record in current:
            by_value[_source(record, attribute)].append(record)
        sources[attribute] = {}
        for value, records in sorted(by_value.items()):
            reference = [record for record in baseline if _source(record, attribute) == value]
            matching = [p for p in pairs if p["period"] == period and _source(p, attribute) == value]
            sources[attribute][value] = {
                "seen_in_baseline": bool(reference),
                **_group(reference, records, matching, config),
            }
    return sources


def _source(record: dict, attribute: str) -> str:
    # Records written before an attribute joined SOURCE_ATTRIBUTES lack it.
    return record["source"].get(attribute, UNKNOWN_SOURCE)


def _labelled_pairs(inferences: list[dict], records: list[dict]) -> list[dict]:
    """Each image's final (last) label with the last prediction made before it."""
    predictions = defaultdict(list)
    for record in inferences:
        predictions[record["image"]].append(record)
    labels = {record["image"]: record for record in records if record["kind"] == "label"}
    pairs = []
    for image, label in labels.items():
        before = [record for record in predictions[image] if record["time"] <= label["time"]]
        if not before:
            continue
        prediction = before[-1]
        if prediction["shape"] != label["shape"]:
            LOGGER.warning(
                "label of image %s is %s, its prediction %s: not compared", image, label["shape"], prediction["shape"]
            )
            continue
        truth = rle_decode(label["label"], *label["shape"])
        predicted = rle_decode(prediction["mask"], *prediction["shape"])
        pairs.append(
            {
                "period": prediction["period"],
                "source": prediction["source"],
                "dice": per_image_dice(predicted, truth),
                "flag": prediction["flag"],
                "positive": bool(truth.any()),
            }
        )
    return pairs


def _agreement(pairs: list[dict]) -> dict:
    if not pairs:
        return {"images": 0, "mean_dice": None, "sensitivity": None, "specificity": None}
    # The flag is already a decision: as a 0/1 score at threshold 0.5 it yields the flag's own sensitivity.
    flags = image_level_metrics([float(p["flag"]) for p in pairs], [p["positive"] for p in pairs], threshold=0.5)
    return {
        "images": len(pairs),
        "mean_dice": float(np.mean([pair["dice"] for pair in pairs])),
        "sensitivity": flags["sensitivity"],
        "specificity": flags["specificity"],
        "positives": flags["positives"],
        "negatives": flags["negatives"],
    }


def _baseline_period(periods: list[str], config: MonitorConfig) -> str | None:
    """The first period with at least ``min_samples`` images of the served version, None while there is none."""
    counts = Counter(periods)
    return next((period for period in sorted(counts) if counts[period] >= config.min_samples), None)


def _alert(period: dict, config: MonitorConfig) -> dict:
    name = period["period"]
    overall = {metric for metric, test in period["drift"].items() if test["drifted"]}
    reasons = [
        f"{name}: {metric} drifted (KS {period['drift'][metric]['statistic']:.2f})" for metric in sorted(overall)
    ]
    for attribute, values in period["sources"].items():
        for value, group in values.items():
            if not group["seen_in_baseline"] and group["images"] >= config.min_samples:
                reasons.append(f"{name}: {attribute} {value!r} unseen in the baseline ({group['images']} images)")
            # A source's drift is news only where the whole period's test missed it (a shift hidden in the total).
            reasons += [
                f"{name}: {attribute} {value!r}: {metric} drifted (KS {test['statistic']:.2f})"
                for metric, test in group["drift"].items()
                if test["drifted"] and metric not in overall
            ]
    return {"state": "drift" if reasons else "ok", "reasons": reasons, "period": name}
