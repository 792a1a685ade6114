"""Several models judged on one data set in one run, side by side: accuracy in both conventions and latency.

Every model runs the same data path (``Predictor.predict_batch``) on the same images; latency is measured here, one
image at a time after a warm-up, alternating the models so that a busy machine slows all of them alike.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from matplotlib.figure import Figure

from ptxseg.datasets.labelled import LabelledImage
from ptxseg.evaluation.evaluate import evaluate, read_labelled_batches
from ptxseg.evaluation.plots import save_figure
from ptxseg.inference.predictor import Predictor

__all__ = ["COLUMNS", "compare_models", "write_comparison"]

# (key, heading) of the table's columns, in order.
COLUMNS = (
    ("per_image_dice", "Dice per image (SIIM)"),
    ("pooled_dice", "Dice pooled"),
    ("pooled_iou", "IoU pooled"),
    ("precision", "precision"),
    ("recall", "recall"),
    ("auc", "AUC"),
    ("sensitivity", "sensitivity"),
    ("specificity", "specificity"),
    ("latency_ms", "ms / image"),
    ("latency_ratio", "latency vs first"),
)


def _latencies(predictors: Mapping[str, Predictor], images: list, repeats: int) -> dict[str, float]:
    times = {name: [] for name in predictors}
    for predictor in predictors.values():
        predictor.predict(images[0])  # warm-up: runtimes compile or allocate on the first call
    for _ in range(repeats):
        for image in images:
            for name, predictor in predictors.items():
                started = time.perf_counter()
                predictor.predict(image)
                times[name].append(1000 * (time.perf_counter() - started))
    return {name: statistics.median(values) for name, values in times.items()}


def compare_models(
    predictors: Mapping[str, Predictor],
    items: Sequence[LabelledImage],
    latency_images: int = 8,
    repeats: int = 1,
    batch_size: int = 4,
) -> dict:
    """Each model's metrics (per-image Dice list included) and median single-image latency on this machine.

    Example:
        >>> compare_models({"single": one, "ensemble": three}, items)["models"][1]["latency_ratio"]  # doctest: +SKIP
        2.9
    """
    if not predictors:
        raise ValueError("compare needs at least one model")
    rows = []
    for name, predictor in predictors.items():
        evaluation = evaluate(predictor, items, batch_size)
        metrics = evaluation.metrics()
        row = {key: metrics.get(key) for key, _ in COLUMNS if key in metrics}
        row.update(
            name=name,
            backend=predictor.backend.name,
            postprocess=metrics["postprocess"],
            triage_threshold=metrics["triage_threshold"],
            per_image=[{"image_id": image.image_id, "dice": image.dice} for image in evaluation.images],
        )
        rows.append(row)
    cases = next(read_labelled_batches(items[:latency_images], latency_images, []))
    latency = _latencies(predictors, [case.image for case in cases], repeats)
    for row in rows:
        row["latency_ms"] = latency[row["name"]]
        row["latency_ratio"] = latency[row["name"]] / latency[rows[0]["name"]]
    return {"n_images": len(rows[0]["per_image"]), "latency_images": len(cases), "models": rows}


def _cell(value) -> str:
    return "n/a" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)


def write_comparison(out: Path, comparison: dict, data: dict) -> dict[str, Path]:
    """Write ``comparison.json``, ``comparison.md`` (the table) and ``comparison.png`` (Dice and latency bars)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "comparison.json", "markdown": out / "comparison.md", "plot": out / "comparison.png"}
    paths["json"].write_text(json.dumps({"data": data, **comparison}, indent=2))
    lines = [
        "# Model comparison",
        "",
        f"Data: {', '.join(data['specs'])} ({comparison['n_images']} images); latency: median of single-image "
        f"predictions on {comparison['latency_images']} images on this machine, models alternating.",
        "",
        "| model | " + " | ".join(heading for _, heading in COLUMNS) + " | runtime | post-processing |",
        "| --- " * (len(COLUMNS) + 3) + "|",
    ]
    for row in comparison["models"]:
        cells = [
            row["name"],
            *(_cell(row.get(key)) for key, _ in COLUMNS),
            row["backend"],
            json.dumps(row["postprocess"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Sensitivity and specificity at each model's triage threshold; the plot is comparison.png."]
    paths["markdown"].write_text("\n".join(lines) + "\n")
    _plot(comparison["models"], paths["plot"])
    return paths


def _plot(rows: list[dict], path: Path) -> Path:
    figure = Figure(figsize=(9, 3.5))
    dice_axes, latency_axes = figure.subplots(1, 2)
    names = [row["name"] for row in rows]
    dice_axes.boxplot([[case["dice"] for case in row["per_image"]] for row in rows], tick_labels=names)
    dice_axes.set_title("Dice per image")
    latency_axes.bar(names, [row["latency_ms"] for row in rows])
    latency_axes.set_title("ms per image (this machine)")
    figure.tight_layout()
    return save_figure(figure, path)
