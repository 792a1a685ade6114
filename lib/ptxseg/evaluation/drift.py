"""Input drift: has a distribution moved away from the reference? Two-sample Kolmogorov-Smirnov, with a threshold.

Why KS rather than PSI: it needs no binning (PSI's bins decide its value, and with the few dozen images a hospital
labels a week most bins are empty), it works on any continuous score (probability, intensity), and its p-value
accounts for the sample sizes. The alert needs both: the statistic past ``threshold`` (a shift large enough to
matter) and ``p < alpha`` (not chance); fewer than ``min_samples`` on either side is "too few", never an alert.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import ks_2samp

__all__ = ["DriftTest", "ks_drift"]


@dataclass(frozen=True)
class DriftTest:
    """One comparison: KS statistic (0..1, None when too few), its p-value, the sizes and the verdict."""

    statistic: float | None
    p_value: float | None
    reference_n: int
    current_n: int
    drifted: bool

    def to_dict(self) -> dict:
        """JSON-ready."""
        return asdict(self)


def ks_drift(
    reference: Sequence[float],
    current: Sequence[float],
    *,
    threshold: float = 0.3,
    alpha: float = 0.01,
    min_samples: int = 10,
) -> DriftTest:
    """Compare ``current`` with ``reference`` by the two-sample KS test.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> ks_drift(rng.normal(0, 1, 200), rng.normal(0, 1, 50)).drifted
        False
        >>> ks_drift(rng.normal(0, 1, 200), rng.normal(2, 1, 50)).drifted
        True
    """
    reference, current = np.asarray(reference, float), np.asarray(current, float)
    if min(reference.size, current.size) < max(min_samples, 1):
        return DriftTest(None, None, int(reference.size), int(current.size), False)
    result = ks_2samp(reference, current)
    statistic, p_value = float(result.statistic), float(result.pvalue)
    return DriftTest(
        statistic, p_value, int(reference.size), int(current.size), statistic >= threshold and p_value < alpha
    )
