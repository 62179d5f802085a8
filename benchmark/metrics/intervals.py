"""Confidence intervals from bootstrap replicates: percentile, BCa and moment selection.

All read a metric's bootstrap replicates; BCa (bias-corrected and accelerated; Efron &
Tibshirani 1993, ch. 14) also reads the jackknife over items, and the moment-selection
interval (for a metric that takes maxima over steps) BCa's upper end and, for its lower end,
the replicates of the metric around a point whose near-tied steps are tied exactly
(:mod:`benchmark.metrics.ties`). The normal distribution
functions are ``scipy.stats.norm``'s, and the conventions are those of
``scipy.stats.bootstrap(method="BCa")`` (the bias correction from the mid-rank of the point
among the replicates, the acceleration summed over independent samples, linear
interpolation between order statistics), so that the two agree on the same replicates.

Every interval returned here contains its point estimate: where the bootstrap distribution
sits wholly on one side of the point (the bias correction then runs off the end), the
interval is widened to reach the point. :func:`interval_of` is the one entry point.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from benchmark.metrics.ties import TIE_LEVEL

_TIE = 1e-9  # relative: replicates this close to the point count as equal to it

PERCENTILE = "percentile"
BCA = "bca"
MOMENT_SELECTION = "moment-selection"


@dataclass(frozen=True)
class IntervalMethod:
    """How an interval is computed: its key (recorded in results.json) and a description."""

    key: str
    label: str
    description: str


INTERVAL_METHODS: dict[str, IntervalMethod] = {
    PERCENTILE: IntervalMethod(
        PERCENTILE,
        "percentile",
        "the 2.5% and 97.5% quantiles of the metric over the bootstrap replicates",
    ),
    BCA: IntervalMethod(
        BCA,
        "BCa",
        "bias-corrected and accelerated: the quantiles of the replicates are shifted by the "
        "share of replicates below the point estimate (bias) and by the skewness of the "
        "jackknife over items (acceleration); widened to the point estimate in the rare case "
        "that it falls outside",
    ),
    MOMENT_SELECTION: IntervalMethod(
        MOMENT_SELECTION,
        "moment selection",
        "for a maximum over steps, which sampling noise pushes up where steps tie: the lower "
        "end is the point estimate less the 97.5% quantile of the metric's bootstrap error "
        "computed as if, in each task, the steps whose gap below the best is within what "
        f"noise alone opens in {TIE_LEVEL:.0%} of replicates were exactly tied with it (the least "
        "favourable case the data do not rule out); the upper end is BCa's; widened to the "
        "point estimate where it falls outside",
    ),
}
"""Every interval method a metric may declare (:attr:`MetricDefinition.interval`)."""


def percentile_interval(replicates: np.ndarray, level: float) -> tuple[float, float]:
    """The ``level`` percentile interval of the replicates."""
    tail = (1.0 - level) / 2.0
    lo, hi = np.quantile(replicates, [tail, 1.0 - tail])
    return float(lo), float(hi)


def bias_correction(replicates: np.ndarray, point: float) -> float:
    """z0 = Φ⁻¹(share of replicates below the point, ties counted half), kept finite.

    The share is clipped to [1/(2B), 1 − 1/(2B)] for B replicates: all replicates on one
    side of the point would give an infinite z0.
    """
    B = replicates.size
    tol = _TIE * (1.0 + abs(point))  # the point and the replicates are summed differently
    below = np.count_nonzero(replicates < point - tol)
    share = (below + np.count_nonzero(replicates <= point + tol)) / (2.0 * B)
    share = min(max(share, 0.5 / B), 1.0 - 0.5 / B)
    return float(stats.norm.ppf(share))


def acceleration(jackknife: Sequence[np.ndarray]) -> float:
    """The BCa acceleration from leave-one-item-out values, one array per independent sample.

    ``jackknife[k][i]`` is the statistic without item i of sample (task) k. With the
    influence values U_ki = (n_k − 1)(mean_i θ_(ki) − θ_(ki)),
    a = Σ_k Σ_i U_ki³ / n_k³ / (6 (Σ_k Σ_i U_ki² / n_k²)^{3/2}); 0 when no item moves the
    statistic. A sample of one item has no jackknife and adds nothing.
    """
    num = den = 0.0
    for values in jackknife:
        n = values.size
        if n < 2:
            continue
        u = (n - 1) * (values.mean() - values)
        num += float(np.sum(u**3)) / n**3
        den += float(np.sum(u**2)) / n**2
    if not den > 0.0:
        return 0.0
    return num / (6.0 * den**1.5)


def bca_interval(
    replicates: np.ndarray, point: float, accel: float, level: float
) -> tuple[float, float]:
    """The ``level`` BCa interval of the replicates (not yet widened to the point)."""
    z0 = bias_correction(replicates, point)
    z = stats.norm.ppf([(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    shifted = z0 + z
    denominator = 1.0 - accel * shifted
    # a huge acceleration would flip the order of the levels: fall back to the bias correction
    if np.any(denominator <= 0.0):
        denominator = np.ones_like(shifted)
    levels = stats.norm.cdf(z0 + shifted / denominator)
    lo, hi = np.quantile(replicates, levels)
    return float(lo), float(hi)


def interval_of(
    method: str,
    replicates: np.ndarray,
    point: float,
    level: float,
    jackknife: Sequence[np.ndarray] = (),
    selected_replicates: np.ndarray | None = None,
) -> tuple[float, float]:
    """The ``level`` interval of one metric by ``method``, widened to contain ``point``.

    ``replicates`` are the metric's bootstrap replicates; ``jackknife`` (BCa, moment
    selection) holds, per task, the metric with each of its items left out;
    ``selected_replicates`` (moment selection) are the metric at the tie-selected point
    plus each replicate's deviations from the point (:func:`benchmark.metrics.ties.
    tie_selected_point`), whose metric is ``point`` itself.
    """
    if method == PERCENTILE:
        lo, hi = percentile_interval(replicates, level)
    elif method == BCA:
        lo, hi = bca_interval(replicates, point, acceleration(jackknife), level)
    elif method == MOMENT_SELECTION:
        if selected_replicates is None:
            raise ValueError("the moment-selection interval needs the tie-selected replicates")
        # the error of the metric where the near-tied steps tie: replicate minus point
        lo = 2.0 * point - float(np.quantile(selected_replicates, (1.0 + level) / 2.0))
        hi = bca_interval(replicates, point, acceleration(jackknife), level)[1]
    else:
        raise ValueError(
            f"unknown interval method {method!r}; expected one of {', '.join(INTERVAL_METHODS)}"
        )
    return min(lo, point), max(hi, point)
