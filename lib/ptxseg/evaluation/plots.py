"""The pictures of an evaluation: threshold sweep, per-image Dice histogram, and a montage of best and worst cases.

Figures are built with matplotlib's object API (``Figure`` + Agg canvas), never ``pyplot``: no display, no global
state, safe in servers and worker processes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ptxseg.transforms.fit import fit_mask, fit_to_square

__all__ = ["Case", "CaseGallery", "plot_threshold_sweep", "plot_dice_histogram", "plot_cases"]

TRUTH_COLOUR = "lime"
PREDICTION_COLOUR = "red"
_DPI = 100


@dataclass(frozen=True)
class Case:
    """A thumbnail of one evaluated image with its truth and predicted masks (letterboxed like the model input)."""

    image_id: str
    dice: float
    image: np.ndarray
    truth: np.ndarray
    prediction: np.ndarray


class CaseGallery:
    """Keeps the ``size`` best and worst cases seen so far as small thumbnails, so memory does not grow with the set.

    Best: highest Dice, images with a pneumothorax first (an empty image predicted empty is right but shows
    nothing). Worst: lowest Dice, then the most wrong pixels (false positives plus false negatives).

    Example:
        >>> gallery = CaseGallery(size=1, thumbnail_px=8)
        >>> truth = np.zeros((16, 16), bool); truth[:8] = True
        >>> gallery.add("a", 1.0, 0, np.zeros((16, 16)), truth, truth)
        >>> gallery.add("b", 0.0, 128, np.zeros((16, 16)), truth, ~truth)
        >>> [case.image_id for case in gallery.best], [case.image_id for case in gallery.worst]
        (['a'], ['b'])
    """

    def __init__(self, size: int = 4, thumbnail_px: int = 256):
        self.size = size
        self.thumbnail_px = thumbnail_px
        self._best: list[tuple[tuple, Case]] = []
        self._worst: list[tuple[tuple, Case]] = []

    @property
    def best(self) -> list[Case]:
        """The best cases, best first."""
        return [case for _, case in self._best]

    @property
    def worst(self) -> list[Case]:
        """The worst cases, worst first."""
        return [case for _, case in self._worst]

    def _qualifies(self, ranking: list[tuple[tuple, Case]], key: tuple) -> bool:
        return len(ranking) < self.size or key > ranking[-1][0]

    def _insert(self, ranking: list[tuple[tuple, Case]], key: tuple, case: Case) -> list[tuple[tuple, Case]]:
        return sorted([*ranking, (key, case)], key=lambda entry: entry[0], reverse=True)[: self.size]

    def add(
        self, image_id: str, dice: float, wrong_px: int, pixels: np.ndarray, truth: np.ndarray, prediction: np.ndarray
    ) -> None:
        """Offer one case; its thumbnail is made only when it enters either ranking."""
        best_key, worst_key = (bool(truth.any()), dice), (-dice, wrong_px)
        wants_best, wants_worst = self._qualifies(self._best, best_key), self._qualifies(self._worst, worst_key)
        if not (wants_best or wants_worst):
            return
        thumbnail, fit = fit_to_square(pixels, self.thumbnail_px)
        case = Case(image_id, dice, thumbnail, fit_mask(truth, fit), fit_mask(prediction, fit))
        if wants_best:
            self._best = self._insert(self._best, best_key, case)
        if wants_worst:
            self._worst = self._insert(self._worst, worst_key, case)


def save_figure(figure: Figure, path: Path) -> Path:
    """Write a figure at the report resolution."""
    figure.savefig(path, dpi=_DPI, bbox_inches="tight")
    return path


def plot_threshold_sweep(sweep: dict, path: Path, used_threshold: float | None = None) -> Path:
    """Both Dice conventions against the threshold (``ThresholdSweep.to_dict()``), the threshold in use marked.

    Example:
        >>> plot_threshold_sweep(evaluation.sweep.to_dict(), Path("sweep.png"), 0.5)  # doctest: +SKIP
    """
    figure = Figure(figsize=(6, 4))
    axes = figure.subplots()
    as_float = [np.nan if value is None else value for value in sweep["pooled_dice"]]
    axes.plot(sweep["thresholds"], sweep["per_image_dice"], marker="o", label="per-image Dice (SIIM: empty+empty = 1)")
    axes.plot(sweep["thresholds"], as_float, marker="s", label="pooled Dice (all pixels of the set)")
    if used_threshold is not None:
        axes.axvline(used_threshold, color="grey", linestyle="--", label=f"threshold in use ({used_threshold:g})")
    axes.set(xlabel="probability threshold", ylabel="Dice", xlim=(0, 1), ylim=(0, 1.02))
    axes.set_title("Dice against threshold (no minimum area)")
    axes.grid(alpha=0.3)
    axes.legend(loc="best", fontsize="small")
    return save_figure(figure, path)


def plot_dice_histogram(dice: list[float], has_pneumothorax: list[bool], path: Path) -> Path:
    """Histogram of per-image Dice, images with and without pneumothorax stacked.

    Example:
        >>> plot_dice_histogram([1.0, 0.4], [False, True], Path("dice.png"))
        PosixPath('dice.png')
    """
    dice_values, positive = np.asarray(dice, dtype=float), np.asarray(has_pneumothorax, dtype=bool)
    figure = Figure(figsize=(6, 4))
    axes = figure.subplots()
    axes.hist(
        [dice_values[positive], dice_values[~positive]],
        bins=np.linspace(0, 1, 21),
        stacked=True,
        label=[f"pneumothorax ({positive.sum()})", f"no pneumothorax ({(~positive).sum()})"],
        color=["tab:orange", "tab:blue"],
    )
    axes.set(xlabel="per-image Dice (SIIM rule)", ylabel="images", xlim=(0, 1))
    axes.set_title(f"Per-image Dice, {dice_values.size} images")
    axes.legend(fontsize="small")
    return save_figure(figure, path)


def _draw_case(axes, case: Case, label: str) -> None:
    axes.imshow(case.image, cmap="gray", vmin=0, vmax=1)
    for mask, colour in ((case.truth, TRUTH_COLOUR), (case.prediction, PREDICTION_COLOUR)):
        if mask.any():  # contour() of an empty mask only warns
            axes.contour(mask.astype(float), levels=[0.5], colors=colour, linewidths=1)
    short_id = case.image_id if len(case.image_id) <= 18 else "..." + case.image_id[-15:]
    axes.set_title(f"{label}: {short_id}\nDice {case.dice:.3f}", fontsize=8)


def plot_cases(gallery: CaseGallery, path: Path) -> Path:
    """A montage: best cases on the top row, worst below; truth contour green, prediction red.

    Example:
        >>> plot_cases(evaluation.gallery, Path("overlays.png"))  # doctest: +SKIP
    """
    columns = max(1, len(gallery.best), len(gallery.worst))
    figure = Figure(figsize=(2.6 * columns, 5.6))
    grid = np.asarray(figure.subplots(2, columns, squeeze=False))
    for row, (label, cases) in enumerate((("best", gallery.best), ("worst", gallery.worst))):
        for column, axes in enumerate(grid[row]):
            axes.set_axis_off()
            if column < len(cases):
                _draw_case(axes, cases[column], label)
    figure.suptitle("Best (top) and worst (bottom) cases: truth green, prediction red")
    return save_figure(figure, path)
