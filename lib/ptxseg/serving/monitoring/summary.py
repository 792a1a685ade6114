"""The monitoring summary an app serves (``GET /monitoring``) and 3D Slicer shows on connect, and the model timeline.

Small on purpose: the alert, the baseline, the last period's numbers and agreement, and the model timeline. The full
per-period, per-source analysis is ``ptxseg monitor``'s report.
"""

from __future__ import annotations

import os

from ptxseg.serving.monitoring.analysis import DEFAULT_CONFIG, MonitorConfig, analyse
from ptxseg.serving.monitoring.store import MonitorStore
from ptxseg.serving.store import ModelRecord, ModelStore

__all__ = ["model_timeline", "monitoring_summary", "summary_text"]


def model_timeline(model_dir: str | os.PathLike) -> list[dict]:
    """Every model version's outcome, oldest first: promotions and refusals with their validation Dice.

    ``validation_dice`` is the challenger's (fine-tuning) or the installed checkpoint's (``ptxseg export``);
    ``champion_dice`` the served model's on the same validation images, where a fine-tuning judged them.

    Example:
        >>> model_timeline("monailabel_app/model")  # doctest: +SKIP
        [{'version': 1, 'event': 'ptxseg export', 'promoted': True, 'validation_dice': 0.81, ...}]
    """
    return _timeline(ModelStore(model_dir).read_record())


def _timeline(record: ModelRecord) -> list[dict]:
    return [
        {
            "version": entry.get("version"),
            "event": entry.get("event", "fine-tuning"),
            "promoted": bool(entry.get("promoted")),
            "validation_dice": entry.get("challenger_dice", entry.get("validation_dice")),
            "champion_dice": entry.get("champion_dice"),
            "reason": entry.get("reason", ""),
        }
        for entry in record.history
    ]


def monitoring_summary(
    store: MonitorStore, model_dir: str | os.PathLike | None = None, config: MonitorConfig = DEFAULT_CONFIG
) -> dict:
    """The JSON payload of ``GET /monitoring``: alert, baseline, last period, model timeline.

    Args:
        store: the app's monitoring store.
        model_dir: the served model's folder (its record holds the timeline); None leaves the timeline empty.
        config: period length and drift thresholds.

    Example:
        >>> import tempfile
        >>> monitoring_summary(MonitorStore(tempfile.mkdtemp()))["alert"]
        {'state': 'no data', 'reasons': []}
    """
    analysis = analyse(store.records(), config)
    last = analysis["periods"][-1] if analysis["periods"] else None
    served = ModelStore(model_dir).read_record() if model_dir is not None else None
    summary = {
        "alert": analysis["alert"],
        "baseline": analysis["baseline"],
        "last_period": None
        if last is None
        else {
            "period": last["period"],
            "images": last["images"],
            "flag_rate": last["flag_rate"],
            "drift": {name: test["statistic"] for name, test in last["drift"].items()},
            "agreement": last["agreement"],
        },
        "periods": len(analysis["periods"]),
        "model": None if served is None else {"version": served.version, "validation_dice": served.validation_dice},
        "timeline": _timeline(served) if served is not None else [],
        "config": analysis["config"],
    }
    return {**summary, "text": summary_text(summary)}


def summary_text(summary: dict) -> str:
    """One line for a person (what 3D Slicer shows on connect): the alert and the last period's agreement.

    Example:
        >>> summary_text({"alert": {"state": "no data", "reasons": []}, "last_period": None})
        'Monitoring: no data'
    """
    alert, last = summary["alert"], summary["last_period"]
    text = f"Monitoring: {alert['state']}"
    if alert["reasons"]:
        more = f" (+{len(alert['reasons']) - 1} more)" if len(alert["reasons"]) > 1 else ""
        text += f": {alert['reasons'][0]}{more}"
    if last is None:
        return text
    agreement = last["agreement"]
    text += f". {last['period']}: {last['images']} images"
    if not agreement["images"]:
        return text + ", none labelled yet"

    def number(value) -> str:
        return "n/a" if value is None else f"{value:.2f}"

    return (
        text + f", {agreement['images']} labelled: mean Dice {number(agreement['mean_dice'])}, flag sensitivity "
        f"{number(agreement['sensitivity'])}, specificity {number(agreement['specificity'])}"
    )
