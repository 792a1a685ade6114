"""``ptxseg monitor``'s report: a Markdown page with plots, from an app's monitoring records and model record.

Figures use matplotlib's object API (``Figure``, Agg), never ``pyplot``, as ``ptxseg.evaluation.plots`` does.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ptxseg.io.atomic import write_text_atomically
from ptxseg.serving.monitoring.analysis import DEFAULT_CONFIG, DRIFT_METRICS, MonitorConfig, analyse, period_of
from ptxseg.serving.monitoring.store import MonitorStore
from ptxseg.serving.monitoring.summary import model_timeline

__all__ = ["REPORT_NAME", "PLOT_NAMES", "write_monitoring_report"]

REPORT_NAME = "monitoring.md"
PLOT_NAMES = {
    "probability": "probability_by_period.png",
    "drift": "drift_by_period.png",
    "agreement": "agreement_by_period.png",
}


def write_monitoring_report(
    store: MonitorStore,
    model_dir: str | os.PathLike | None,
    out: str | os.PathLike,
    config: MonitorConfig = DEFAULT_CONFIG,
) -> Path:
    """Write ``out/monitoring.md`` and its plots; returns the report's path.

    Example:
        >>> store = MonitorStore.for_app("monailabel_app")
        >>> write_monitoring_report(store, "monailabel_app/model", "report")  # doctest: +SKIP
        PosixPath('report/monitoring.md')
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    records = store.records()
    analysis = analyse(records, config)
    timeline = model_timeline(model_dir) if model_dir is not None else []
    if analysis["periods"]:
        _plot_probabilities(records, config, out / PLOT_NAMES["probability"])
        _plot_drift(analysis, config, out / PLOT_NAMES["drift"])
        _plot_agreement(analysis, out / PLOT_NAMES["agreement"])
    return write_text_atomically(out / REPORT_NAME, _markdown(analysis, timeline))


def _number(value, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _markdown(analysis: dict, timeline: list[dict]) -> str:
    alert, baseline = analysis["alert"], analysis["baseline"]
    lines = ["# Model monitoring", "", f"**Alert: {alert['state']}**", ""]
    lines += [f"- {reason}" for reason in alert["reasons"]]
    if baseline is None:
        empty = "No drift baseline yet." if analysis["periods"] else "No inference recorded yet."
        return "\n".join([*lines, empty, ""]) + _timeline(timeline)
    config = analysis["config"]
    lines += [
        "",
        f"Baseline: model version {baseline['model_version']}, period {baseline['period']} "
        f"({baseline['images']} images, flag rate {_number(baseline['flag_rate'], 2)}). "
        "Drift: two-sample Kolmogorov-Smirnov against the baseline, alert at "
        f"KS >= {config['threshold']} with p < {config['alpha']} (at least {config['min_samples']} images each side).",
        "",
        "## Per period",
        "",
        "| period | images | flag rate | mean probability | KS probability | KS intensity mean | KS intensity std "
        "| drift | labelled | mean Dice | sensitivity | specificity |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    lines += [_row([period["period"], *_cells(period)]) for period in analysis["periods"]]
    last = analysis["periods"][-1]
    lines += [
        "",
        f"## Per source, {last['period']}",
        "",
        "| attribute | value | in baseline | images | flag rate | mean probability | KS probability "
        "| KS intensity mean | KS intensity std | drift | labelled | mean Dice | sensitivity | specificity |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for attribute, values in last["sources"].items():
        for value, group in values.items():
            seen = "yes" if group["seen_in_baseline"] else "**no**"
            lines.append(_row([attribute, value, seen, *_cells(group)]))
    lines += ["", *(f"![{name}]({file})" for name, file in PLOT_NAMES.items()), ""]
    return "\n".join(lines) + _timeline(timeline)


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _cells(group: dict) -> list[str]:
    drift, agreement = group["drift"], group["agreement"]
    return [
        str(group["images"]),
        _number(group["flag_rate"], 2),
        _number(group.get("probability_mean")),
        *(_number(drift[metric]["statistic"], 2) for metric in DRIFT_METRICS),
        "**yes**" if group["drifted"] else "no",
        str(agreement["images"]),
        _number(agreement["mean_dice"]),
        _number(agreement["sensitivity"], 2),
        _number(agreement["specificity"], 2),
    ]


def _timeline(timeline: list[dict]) -> str:
    lines = ["", "## Model timeline", ""]
    if not timeline:
        return "\n".join([*lines, "No model installed or trained yet.", ""])
    lines += [
        "| version | event | promoted | validation Dice | champion Dice | reason |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for entry in timeline:
        promoted = "yes" if entry["promoted"] else "refused"
        lines.append(
            f"| {entry['version']} | {entry['event']} | {promoted} | {_number(entry['validation_dice'])} "
            f"| {_number(entry['champion_dice'])} | {entry['reason']} |"
        )
    return "\n".join([*lines, ""])


def _plot_probabilities(records: list[dict], config: MonitorConfig, path: Path) -> None:
    by_period: dict[str, list[float]] = {}
    for record in records:
        if record["kind"] == "inference":
            by_period.setdefault(period_of(record["time"], config.period), []).append(record["probability"])
    names = sorted(by_period)
    figure = Figure(figsize=(max(6, len(names) * 0.8), 4))
    axes = figure.subplots()
    axes.boxplot([by_period[name] for name in names], tick_labels=names)
    axes.set(ylabel="image-level probability", ylim=(0, 1))
    axes.set_title("Pneumothorax probability per period")
    axes.tick_params(axis="x", rotation=45)
    figure.savefig(path, dpi=100, bbox_inches="tight")


def _plot_drift(analysis: dict, config: MonitorConfig, path: Path) -> None:
    names = [period["period"] for period in analysis["periods"]]
    figure = Figure(figsize=(max(6, len(names) * 0.8), 4))
    axes = figure.subplots()
    for metric in DRIFT_METRICS:
        values = [period["drift"][metric]["statistic"] for period in analysis["periods"]]
        axes.plot(names, [np.nan if value is None else value for value in values], marker="o", label=metric)
    axes.axhline(config.threshold, color="red", linestyle="--", label=f"alert threshold {config.threshold:g}")
    axes.set(ylabel="KS statistic against the baseline", ylim=(0, 1))
    axes.set_title(f"Input drift (baseline {analysis['baseline']['period']})")
    axes.tick_params(axis="x", rotation=45)
    axes.legend(fontsize="small")
    figure.savefig(path, dpi=100, bbox_inches="tight")


def _plot_agreement(analysis: dict, path: Path) -> None:
    names = [period["period"] for period in analysis["periods"]]
    figure = Figure(figsize=(max(6, len(names) * 0.8), 4))
    axes = figure.subplots()
    for key, label in (
        ("mean_dice", "mean Dice"),
        ("sensitivity", "flag sensitivity"),
        ("specificity", "flag specificity"),
    ):
        values = [period["agreement"][key] for period in analysis["periods"]]
        axes.plot(names, [np.nan if value is None else value for value in values], marker="o", label=label)
    axes.set(ylabel="prediction vs. final label", ylim=(0, 1.02))
    axes.set_title("Agreement with the annotators' final labels")
    axes.tick_params(axis="x", rotation=45)
    axes.legend(fontsize="small")
    figure.savefig(path, dpi=100, bbox_inches="tight")
