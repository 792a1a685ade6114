"""Write an evaluation to a folder: metrics.json, per_image.csv, the plots, and report.md tying them together."""

from __future__ import annotations

import csv
import json
import os
from dataclasses import astuple, fields
from pathlib import Path

from ptxseg.evaluation.evaluate import Evaluation, ImageResult
from ptxseg.evaluation.plots import plot_cases, plot_dice_histogram, plot_threshold_sweep
from ptxseg.io.atomic import write_text_atomically

__all__ = ["METRICS_NAME", "PER_IMAGE_NAME", "REPORT_NAME", "PLOT_NAMES", "write_evaluation"]

METRICS_NAME = "metrics.json"
PER_IMAGE_NAME = "per_image.csv"
REPORT_NAME = "report.md"
PLOT_NAMES = {"sweep": "threshold_sweep.png", "histogram": "dice_histogram.png", "cases": "overlays_best_worst.png"}


def _number(value: float | None, digits: int = 4) -> str:
    return "n/a (undefined)" if value is None else f"{value:.{digits}f}"


def _write_per_image(evaluation: Evaluation, path: Path) -> None:
    with path.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow([item.name for item in fields(ImageResult)])
        writer.writerows(astuple(result) for result in evaluation.images)


def _report(metrics: dict) -> str:
    model, data, postprocess = metrics["model"], metrics["data"], metrics["postprocess"]
    tuning = metrics.get("tuning")
    sweep = metrics["threshold_sweep"]
    best_index = max(range(len(sweep["thresholds"])), key=lambda index: sweep["per_image_dice"][index])
    lines = [
        f"# Evaluation of {Path(model['path']).name}",
        "",
        f"- **Model**: `{model['path']}`: {model['encoder']} U-Net at {model['image_size']} x {model['image_size']}, "
        f"encoder weights {model['encoder_weights']}, saved {model['created']} by ptxseg {model['ptxseg_version']}; "
        f"run with the `{model['backend']}` backend.",
        f"- **Data**: {', '.join(f'`{spec}`' for spec in data['specs'])}: {metrics['n_images']} images evaluated "
        f"({metrics['positives']} with pneumothorax, {metrics['negatives']} without); "
        f"{len(metrics['skipped'])} unreadable and left out.",
        f"- **Post-processing**: `{json.dumps(postprocess)}`, applied at the model grid; masks are then brought back "
        "to each image's original pixel grid and scored there.",
    ]
    if tuning is not None:
        lines.append(
            f"- **Tuned on this same set** by grid search over {len(tuning['candidates'])} candidates "
            f"({tuning['criterion']}) and stored in the checkpoint: the numbers below are optimistic for this "
            "set; judge the model on a held-out set."
        )
    lines += [
        f"- **Triage**: an image is flagged when its pneumothorax score is >= {metrics['triage_threshold']:g}.",
        "",
        "## Segmentation",
        "",
        "| metric | value | convention |",
        "| --- | --- | --- |",
        f"| Dice, per image | {_number(metrics['per_image_dice'])} | Kaggle/SIIM: each image's Dice, 1.0 when "
        "prediction and truth are both empty, averaged over images |",
        f"| Dice, pooled | {_number(metrics['pooled_dice'])} | the paper's: all pixels of the set pooled, then "
        "2TP / (2TP + FP + FN) |",
        f"| IoU, pooled | {_number(metrics['pooled_iou'])} | pooled: TP / (TP + FP + FN) |",
        f"| precision, pooled | {_number(metrics['precision'])} | pooled: TP / (TP + FP) |",
        f"| recall, pooled | {_number(metrics['recall'])} | pooled: TP / (TP + FN) |",
        f"| pixel accuracy, pooled | {_number(metrics['pixel_accuracy'])} | pooled: (TP + TN) / all pixels |",
        "",
        "## Image level (pneumothorax score against truth non-empty)",
        "",
        "| AUC | sensitivity | specificity |",
        "| --- | --- | --- |",
        f"| {_number(metrics['auc'])} | {_number(metrics['sensitivity'])} | {_number(metrics['specificity'])} |",
        "",
        "A metric needing a class the set lacks (e.g. AUC without negative images) is undefined, never made up.",
        "",
        "## Threshold sweep",
        "",
        f"![threshold sweep]({PLOT_NAMES['sweep']})",
        "",
        f"Method: {sweep['method']}. Best per-image Dice {_number(sweep['per_image_dice'][best_index])} at "
        f"threshold {sweep['thresholds'][best_index]:g}. Values in `{METRICS_NAME}` under `threshold_sweep`.",
        "",
        "## Per-image Dice",
        "",
        f"![per-image Dice histogram]({PLOT_NAMES['histogram']})",
        "",
        f"Every image's Dice, IoU (same empty rule), areas and score: `{PER_IMAGE_NAME}`.",
        "",
        "## Best and worst cases",
        "",
        f"![best and worst cases]({PLOT_NAMES['cases']})",
        "",
        "Truth contour green, prediction red. Best: highest Dice among images with pneumothorax; worst: lowest Dice.",
        "",
    ]
    return "\n".join(lines)


def write_evaluation(
    out_dir: str | os.PathLike, evaluation: Evaluation, data: dict, model: dict, tuning: dict | None = None
) -> dict:
    """Write every evaluation file to ``out_dir`` and return the metrics written to ``metrics.json``.

    Args:
        out_dir: folder (created if missing).
        evaluation: the result of :func:`ptxseg.evaluation.evaluate.evaluate`.
        data: which set: at least ``specs`` (the ``--data`` specs) and counts.
        model: which model: ``path``, ``encoder``, ``image_size``, ``encoder_weights``, ``created``,
            ``ptxseg_version``, ``backend``.
        tuning: :meth:`ptxseg.evaluation.tuning.TuningResult.to_dict` when the post-processing was tuned here.

    Example:
        >>> write_evaluation("eval", evaluate(predictor, items), {"specs": specs}, model_summary)  # doctest: +SKIP
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics = {**evaluation.metrics(), "data": data, "model": model}
    if tuning is not None:
        metrics["tuning"] = tuning
    postprocess = metrics["postprocess"]
    used_threshold = postprocess.get("threshold", postprocess.get("bottom_threshold"))
    plot_threshold_sweep(metrics["threshold_sweep"], out_dir / PLOT_NAMES["sweep"], used_threshold)
    plot_dice_histogram(
        [result.dice for result in evaluation.images],
        [result.truth_area_px > 0 for result in evaluation.images],
        out_dir / PLOT_NAMES["histogram"],
    )
    plot_cases(evaluation.gallery, out_dir / PLOT_NAMES["cases"])
    _write_per_image(evaluation, out_dir / PER_IMAGE_NAME)
    write_text_atomically(out_dir / METRICS_NAME, json.dumps(metrics, indent=2))
    write_text_atomically(out_dir / REPORT_NAME, _report(metrics))
    return metrics
