"""The metrics' interval methods: BCa as scipy computes it, and every interval holding its point.

``scipy.stats.bootstrap(method="BCa")`` is the reference: given our data as one sample of item
indices per task, it draws the same resamples from the same generator (a task's items once
per replicate, in task order), so the two intervals agree to rounding.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import stats

from benchmark.metrics import bootstrap_matrices, bootstrap_metrics, metric_arrays, metric_table
from benchmark.metrics.intervals import (
    BCA,
    INTERVAL_METHODS,
    MOMENT_SELECTION,
    PERCENTILE,
    acceleration,
    bias_correction,
    interval_of,
)
from benchmark.metrics.ties import tie_selected_point


def simulate(rng: np.random.Generator, p: np.ndarray, n: int, rho: float = 0.8) -> list:
    """Per-task 0/1 item scores (steps x items), P(correct) = p[i][j], items correlated."""
    items = []
    for j in range(p.shape[1]):
        latent = math.sqrt(rho) * rng.standard_normal(n) + math.sqrt(1 - rho) * (
            rng.standard_normal((p.shape[0], n))
        )
        items.append((latent < stats.norm.ppf(p[:, j])[:, None]).astype(float))
    return items


# flat after learning: the steps before the last tie at the max (forgetting's hard case)
TIED = np.array(
    [
        [0.30, 0.30, 0.30],
        [0.80, 0.35, 0.30],
        [0.80, 0.80, 0.35],
        [0.70, 0.78, 0.80],
    ]
)


def scipy_bca(items: list[np.ndarray], metric: str, n_boot: int, seed: int) -> tuple:
    def statistic(*indices: np.ndarray, axis: int = -1) -> np.ndarray:
        columns = [a[:, idx].mean(axis=-1) * 100 for a, idx in zip(items, indices, strict=True)]
        # each column: (steps, *batch) → matrices (*batch, steps, T)
        stack = np.stack([np.moveaxis(c, 0, -1) for c in np.broadcast_arrays(*columns)], -1)
        return metric_arrays(stack)[metric]

    result = stats.bootstrap(
        [np.arange(a.shape[1]) for a in items],
        statistic,
        n_resamples=n_boot,
        method="BCa",
        vectorized=True,
        rng=np.random.default_rng(seed),
    )
    return result.confidence_interval.low, result.confidence_interval.high


@pytest.mark.parametrize("metric", ["forgetting", "bwt", "last", "fwt"])
def test_bca_matches_scipy_on_the_same_resamples(metric: str) -> None:
    # partial-credit scores (as ANLS gives), so that no replicate ties with the point: scipy
    # compares exactly, we count replicates within rounding of the point as ties
    rng = np.random.default_rng(3)
    items = [a * rng.uniform(0.5, 1.0, a.shape) for a in simulate(rng, TIED, n=120)]
    ours = bootstrap_metrics(items, n_boot=2000, seed=11, methods={metric: BCA})[metric]
    assert ours.method == BCA
    low, high = scipy_bca(items, metric, 2000, 11)
    assert ours.ci95 == pytest.approx((min(low, ours.value), max(high, ours.value)), abs=1e-9)
    assert low <= ours.value <= high  # here scipy's interval holds the point too


def test_forgettings_lower_end_reaches_below_the_lucky_maximum() -> None:
    # steps tied at the max: the replicates of the max sit above the point estimate, and
    # the plug-in sits above the truth; BCa shifts the percentile interval down, and moment
    # selection takes its lower end from the error where the near-tied steps tie exactly
    items = simulate(np.random.default_rng(4), TIED, n=300)

    def interval(method: str) -> tuple[float, float]:
        result = bootstrap_metrics(items, n_boot=2000, seed=1, methods={"forgetting": method})
        assert result["forgetting"].method == method
        return result["forgetting"].ci95

    selected, bca, pct = interval(MOMENT_SELECTION), interval(BCA), interval(PERCENTILE)
    assert bootstrap_metrics(items, n_boot=10)["forgetting"].method == MOMENT_SELECTION
    assert bca[0] < pct[0] and bca[1] < pct[1]
    assert selected[0] < bca[0]
    assert selected[1] == bca[1]  # the upper end: BCa's


def test_moment_selection_is_the_basic_bootstrap_where_the_best_step_stands_out() -> None:
    # a task learned to 0.95 and then well below: one step is the best by far, nothing ties,
    # and the lower end is the point less the 97.5% quantile of the replicates' error
    apart = np.array([[0.2, 0.2, 0.2], [0.95, 0.2, 0.2], [0.5, 0.95, 0.2], [0.3, 0.5, 0.95]])
    items = simulate(np.random.default_rng(6), apart, n=400)
    selected = bootstrap_metrics(items, n_boot=1000, seed=2)["forgetting"]
    bca = bootstrap_metrics(items, n_boot=1000, seed=2, methods={"forgetting": BCA})
    replicates = metric_arrays(bootstrap_matrices(items, n_boot=1000, seed=2))["forgetting"]
    basic_lower = 2 * selected.value - np.quantile(replicates, 0.975)
    assert selected.ci95 == pytest.approx((basic_lower, bca["forgetting"].ci95[1]))


def test_near_tied_steps_follow_the_number_of_steps() -> None:
    # a step counts as tied with the best when its gap is within what noise alone opens in
    # 90% of replicates: 2.5 noise standard deviations below the best is apart from one
    # other step (the 90% quantile of that gap is 1.8), but within noise of the luckiest of
    # ten (3.0)
    rng = np.random.default_rng(0)

    def selected(n_steps: int, gaps: dict[int, float]) -> np.ndarray:
        point = np.full((n_steps + 2, 2), 50.0)  # rows: base, steps 1..n_steps, last step
        for row, gap in gaps.items():
            point[row, 0] -= gap
        replicates = point + rng.standard_normal((4000, *point.shape))
        maxed = [(step, 1) for step in range(1, n_steps + 1)]
        return tie_selected_point(point, replicates, maxed)[:, 0]

    two = selected(2, {2: 2.5})
    assert two[1] == 50.0 and two[2] == 47.5  # apart: left as it is
    two = selected(2, {2: 1.0})
    assert two[2] == 50.0  # within noise: tied with the best
    ten = selected(10, {5: 2.5, 7: 4.0})
    assert ten[5] == 50.0 and ten[7] == 46.0
    assert ten[11] == 50.0  # the last step is not a maxed cell: never moved


def test_moment_selection_only_for_a_maximum() -> None:
    items = simulate(np.random.default_rng(5), TIED, n=20)
    with pytest.raises(ValueError, match="last takes no maximum over steps"):
        bootstrap_metrics(items, n_boot=20, methods={"last": MOMENT_SELECTION})


def test_every_metric_declares_a_known_method() -> None:
    assert {d.interval for d in metric_table()} <= set(INTERVAL_METHODS)
    result = bootstrap_metrics(simulate(np.random.default_rng(5), TIED, n=50), n_boot=50)
    assert {k: r.method for k, r in result.items()} == {d.key: d.interval for d in metric_table()}


def test_unknown_method_or_metric_is_refused() -> None:
    items = simulate(np.random.default_rng(5), TIED, n=20)
    with pytest.raises(ValueError, match="unknown interval method 'studentized'"):
        bootstrap_metrics(items, n_boot=20, methods={"last": "studentized"})
    with pytest.raises(ValueError, match="unknown metric 'lats'"):
        bootstrap_metrics(items, n_boot=20, methods={"lats": PERCENTILE})


def test_interval_widened_to_a_point_outside_the_replicates() -> None:
    # every replicate above the point: BCa's bias correction is clipped, and the interval
    # still reaches down to the point
    replicates = np.linspace(5.0, 9.0, 500)
    assert bias_correction(replicates, 1.0) == pytest.approx(stats.norm.ppf(1 / 1000))
    for method in (BCA, PERCENTILE):
        lo, hi = interval_of(method, replicates, 1.0, 0.95)
        assert lo == 1.0 and 5.0 < hi <= 9.0


def test_bias_correction_counts_ties_half() -> None:
    # a point equal to every replicate (a cell all correct): no bias, z0 = 0
    assert bias_correction(np.full(100, 100.0), 100.0 - 1e-12) == 0.0
    assert bias_correction(np.array([1.0, 2.0, 3.0, 4.0]), 2.0) == pytest.approx(
        stats.norm.ppf(3 / 8)
    )


def test_acceleration_of_a_skewed_sample() -> None:
    # one sample: a = Σ U³ / (6 (Σ U²)^{3/2}), U the jackknife influence values
    x = np.array([0.0, 0.0, 0.0, 1.0, 5.0])
    leave_one_out = (x.sum() - x) / (x.size - 1)
    u = x - x.mean()  # for the mean, the influence values are the deviations
    assert acceleration([leave_one_out]) == pytest.approx(np.sum(u**3) / (6 * np.sum(u**2) ** 1.5))
    assert acceleration([np.full(7, 3.0), np.zeros(1)]) == 0.0  # nothing moves: no skew


@pytest.mark.parametrize(
    "items",
    [
        [np.ones((3, 40)), np.ones((3, 40))],  # every cell all correct
        [np.zeros((3, 40)), np.ones((3, 40))],  # zero variance everywhere
        [np.ones((3, 1)), np.zeros((3, 1))],  # one item per task
        [np.array([[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])] * 2,  # two items, swapped
        [np.vstack([np.zeros(30), np.eye(2, 30)[0], np.eye(2, 30)[1]])] * 2,  # tiny, skewed
    ],
)
def test_degenerate_data_give_intervals_holding_their_point(items: list[np.ndarray]) -> None:
    for name, interval in bootstrap_metrics(items, n_boot=200, seed=3).items():
        if interval.value is None:
            continue
        lo, hi = interval.ci95
        assert math.isfinite(lo) and math.isfinite(hi), name
        assert lo <= interval.value <= hi, (name, interval)


@settings(max_examples=60, deadline=None)
@given(
    T=st.integers(1, 4),
    n=st.integers(1, 12),
    data=st.data(),
    seed=st.integers(0, 2**16),
)
def test_every_interval_holds_its_point(T: int, n: int, data: st.DataObject, seed: int) -> None:
    items = [
        data.draw(hnp.arrays(float, (T + 1, n), elements=st.sampled_from([0.0, 0.5, 1.0])))
        for _ in range(T)
    ]
    for name, interval in bootstrap_metrics(items, n_boot=100, seed=seed).items():
        if interval.value is not None:
            lo, hi = interval.ci95
            assert lo <= interval.value <= hi, (name, interval)
