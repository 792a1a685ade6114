"""Metrics in both conventions (per-image SIIM Dice, pooled), evaluation runs, post-processing tuning, plots and reports.

Each module is one step; this package names the public functions of all of them.
"""

from ptxseg.evaluation.evaluate import (
    SWEEP_THRESHOLDS,
    Evaluation,
    ImageResult,
    LabelledCase,
    ThresholdSweep,
    evaluate,
    read_labelled_batches,
)
from ptxseg.evaluation.metrics import PooledCounts, image_level_metrics, mean_per_image_dice, per_image_dice
from ptxseg.evaluation.plots import Case, CaseGallery, plot_cases, plot_dice_histogram, plot_threshold_sweep
from ptxseg.evaluation.report import METRICS_NAME, PER_IMAGE_NAME, PLOT_NAMES, REPORT_NAME, write_evaluation
from ptxseg.evaluation.tuning import (
    PostprocessSearch,
    TuningResult,
    candidate_postprocesses,
    store_postprocess,
    tune_postprocess,
)

__all__ = [
    "SWEEP_THRESHOLDS",
    "LabelledCase",
    "ImageResult",
    "ThresholdSweep",
    "Evaluation",
    "read_labelled_batches",
    "evaluate",
    "per_image_dice",
    "mean_per_image_dice",
    "PooledCounts",
    "image_level_metrics",
    "Case",
    "CaseGallery",
    "plot_threshold_sweep",
    "plot_dice_histogram",
    "plot_cases",
    "METRICS_NAME",
    "PER_IMAGE_NAME",
    "REPORT_NAME",
    "PLOT_NAMES",
    "write_evaluation",
    "candidate_postprocesses",
    "PostprocessSearch",
    "TuningResult",
    "tune_postprocess",
    "store_postprocess",
]
