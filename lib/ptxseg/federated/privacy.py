"""The filters on what a site sends, from the job's options: FLARE's own privacy filters, applied at the site.

They run on the site's side of the task result (FLARE's client output filters), so what the server sees is already
filtered. Percentile and SVT work on weight differences; BatchNorm statistics describe the site's intensity profile
and can stay at the site (``exclude_batchnorm``).
"""

from __future__ import annotations

from collections.abc import Iterable

from nvflare.app_common.filters.exclude_vars import ExcludeVars
from nvflare.app_common.filters.percentile_privacy import PercentilePrivacy
from nvflare.app_common.filters.svt_privacy import SVTPrivacy

from ptxseg.federated.options import JobOptions

__all__ = ["BATCHNORM_STATISTICS", "batchnorm_statistics", "output_filters"]

BATCHNORM_STATISTICS = ("running_mean", "running_var", "num_batches_tracked")


def batchnorm_statistics(names: Iterable[str]) -> list[str]:
    """The BatchNorm running statistics among the weights' ``names``, listed by name (FLARE's job files hold the
    list; a regular expression would not survive the export).

    Example:
        >>> batchnorm_statistics(["encoder._bn0.weight", "encoder._bn0.running_mean"])
        ['encoder._bn0.running_mean']
    """
    return sorted(name for name in names if name.rsplit(".", 1)[-1] in BATCHNORM_STATISTICS)


def output_filters(options: JobOptions, names: Iterable[str]) -> list:
    """The site output filters ``options`` ask for on weights called ``names``, in the order they apply.

    Example:
        >>> names = ["encoder._bn0.weight", "encoder._bn0.running_mean"]
        >>> [type(item).__name__ for item in output_filters(JobOptions(exclude_batchnorm=True), names)]
        ['ExcludeVars', 'PercentilePrivacy']
        >>> output_filters(JobOptions(privacy="none"), names)
        []
    """
    excluded = batchnorm_statistics(names)
    filters = [ExcludeVars(exclude_vars=excluded)] if options.exclude_batchnorm else []
    if options.privacy == "percentile":
        filters.append(PercentilePrivacy(percentile=options.percentile, gamma=options.gamma))
    elif options.privacy == "svt":
        filters.append(SVTPrivacy(fraction=options.svt_fraction, epsilon=options.svt_epsilon))
    return filters
