"""Judging a model: metrics in both conventions (per-image SIIM Dice, pooled), evaluation runs, post-processing
tuning, plots and the report.
"""

from ptxseg import lazy_exports

_EXPORTS = {
    "PooledCounts": "metrics",
    "per_image_dice": "metrics",
    "image_level_metrics": "metrics",
    "evaluate": "evaluate",
    "tune_postprocess": "tuning",
    "store_postprocess": "tuning",
    "write_evaluation": "report",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
