"""Coverage of every metric's 95% interval, over simulated CL runs with known true accuracies.

Run: ``.venv/bin/python -m pytest tests/perf/test_interval_coverage.py -s -p no:cacheprovider``
(about 12 minutes on 2 unshared cores; ``COVERAGE_RUNS`` sets the runs per scenario at
T = 5, ``COVERAGE_RUNS_LONG`` those at T = 20).

Each scenario fixes the true accuracy of every cell (a (T+1) x T matrix of probabilities)
and simulates runs of 300 items per task: item outcomes at different steps are correlated (a
Gaussian copula, correlation 0.8, as for checkpoints of one model answering the same items).
The truth of a metric is the metric of the true matrix; an interval covers when it contains
it. Printed: for every metric and scenario, the coverage of the metric's declared method
(moment selection for ``forgetting``, BCa for the others) and, for comparison, of the BCa and
percentile intervals on the same replicates, over ``COVERAGE_RUNS`` runs (1000 by default;
one standard error of a 95% coverage is then 0.7 points); and at T = 20 (a task's maximum
runs over up to 19 steps), the coverage of every metric's declared method and where
``forgetting``'s misses fall. Checked: every interval contains its point estimate; at T = 5 the
declared method of every metric covers 93–97% in every scenario; at T = 20 ``forgetting``'s
covers at least 92% (it is conservative where many steps are close: README, "Intervals").
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from scipy import stats

from benchmark.metrics import bootstrap_metrics, cl_metrics, definition, metric_keys

ITEMS, RHO, REPLICATES = 300, 0.8, 1000
RUNS = int(os.environ.get("COVERAGE_RUNS", "1000"))
RUNS_LONG = int(os.environ.get("COVERAGE_RUNS_LONG", "400"))
METHODS = ("declared", "bca", "percentile")


def _matrix(T: int, base: float, learned: list[float], transfer: float = 0.0) -> np.ndarray:
    """True P(correct): row 0 and untrained tasks at ``base`` (plus ``transfer`` just before
    training); ``learned[d]`` is the accuracy on a task d steps after learning it (the last
    value repeats)."""
    p = np.full((T + 1, T), base)
    for j in range(T):
        p[j, j] = base + transfer if j > 0 else base
        for i in range(j + 1, T + 1):
            p[i, j] = learned[min(i - j - 1, len(learned) - 1)]
    return p


def _plateau_drop(T: int) -> np.ndarray:
    p = _matrix(T, 0.30, [0.80])
    p[T, : T - 1] = 0.65  # flat until the last step, then 15 points lower
    return p


def _decline(step: float) -> list[float]:
    return [0.80 - step * d for d in range(5)]


SCENARIOS = {
    "forgetting": (
        "learned to 0.85, then 8 points lower at each later step (a unique max)",
        lambda T: _matrix(T, 0.30, [0.85, 0.77, 0.69, 0.61, 0.53], transfer=0.05),
    ),
    "no forgetting": (
        "learned to 0.80 and flat from then on (all steps tie at the max)",
        lambda T: _matrix(T, 0.30, [0.80], transfer=0.05),
    ),
    "plateau, then drop": (
        "flat at 0.80 after learning, 0.65 after the last step (ties at the max)",
        _plateau_drop,
    ),
    "near ceiling": (
        "0.97 when learned, 1 point lower each later step (skewed cells, steps 1 SE apart)",
        lambda T: _matrix(T, 0.50, [0.97, 0.96, 0.95, 0.94, 0.93]),
    ),
    "0.5-point decline": (
        "0.80 when learned, 0.5 points lower each later step (near ties)",
        lambda T: _matrix(T, 0.30, _decline(0.005)),
    ),
    "1.5-point decline": (
        "0.80 when learned, 1.5 points lower each later step",
        lambda T: _matrix(T, 0.30, _decline(0.015)),
    ),
    "3-point decline": (
        "0.80 when learned, 3 points lower each later step (steps about 1.7 SE apart)",
        lambda T: _matrix(T, 0.30, _decline(0.03)),
    ),
}


def simulate(rng: np.random.Generator, p: np.ndarray) -> list[np.ndarray]:
    """Per-task item scores (steps x items, 0/1) with P(correct) = p[i][j] in every cell."""
    items = []
    for j in range(p.shape[1]):
        shared = rng.standard_normal(ITEMS)
        own = rng.standard_normal((p.shape[0], ITEMS))
        latent = np.sqrt(RHO) * shared + np.sqrt(1 - RHO) * own
        items.append((latent < stats.norm.ppf(p[:, j])[:, None]).astype(float))
    return items


def coverage(
    p: np.ndarray, runs: int, seed: int, methods: tuple[str, ...] = METHODS
) -> dict[str, dict[str, tuple[float, float, float]]]:
    """{method: {metric: (coverage, share missed low, share missed high)}}.

    Missed low: the interval lies above the truth; high: below it. Every interval holds its
    point estimate (checked on every run).
    """
    truth = cl_metrics(100 * p)
    rng = np.random.default_rng(seed)
    counts = {m: {k: np.zeros(3) for k in metric_keys()} for m in methods}
    for run in range(runs):
        items = simulate(rng, p)
        for method, per_metric in counts.items():
            overrides = None if method == "declared" else dict.fromkeys(metric_keys(), method)
            result = bootstrap_metrics(items, n_boot=REPLICATES, seed=run, methods=overrides)
            for name, interval in result.items():
                assert interval.ci95 is not None and interval.value is not None
                lo, hi = interval.ci95
                assert lo <= interval.value <= hi, (method, name, interval)
                per_metric[name] += (lo <= truth[name] <= hi, truth[name] < lo, truth[name] > hi)
    return {m: {k: tuple(c / runs) for k, c in per.items()} for m, per in counts.items()}


@pytest.mark.perf
def test_interval_coverage() -> None:
    start = time.perf_counter()
    T = 5
    table = {
        name: coverage(make(T), RUNS, seed)
        for seed, (name, (_, make)) in enumerate(SCENARIOS.items())
    }
    print(f"\ncoverage of the 95% intervals, {RUNS} runs per scenario, T = {T}, {ITEMS} items")
    for name, (what, _) in SCENARIOS.items():
        print(f"  {name}: {what}")
    header = "metric (method)".ljust(28) + "".join(f"{name[:18]:>20}" for name in SCENARIOS)
    print(header + "   (declared method: its coverage; BCa / percentile)")
    for key in metric_keys():
        cells = [" / ".join(f"{100 * table[s][m][key][0]:.1f}" for m in METHODS) for s in SCENARIOS]
        print(f"{key} ({definition(key).interval})".ljust(28) + "".join(f"{c:>20}" for c in cells))
    misses = [
        f"{100 * table[s]['declared']['forgetting'][1]:.1f} / "
        f"{100 * table[s]['declared']['forgetting'][2]:.1f}"
        for s in SCENARIOS
    ]
    print("forgetting missed low/high".ljust(28) + "".join(f"{c:>20}" for c in misses))

    T_LONG = 20
    long = {
        name: coverage(make(T_LONG), RUNS_LONG, 100 + seed, ("declared",))["declared"]
        for seed, (name, (_, make)) in enumerate(SCENARIOS.items())
    }
    print(f"at T = {T_LONG}, {RUNS_LONG} runs per scenario: coverage of the declared method")
    print("metric".ljust(28) + "".join(f"{name[:18]:>20}" for name in SCENARIOS))
    for key in metric_keys():
        cells = [f"{100 * long[s][key][0]:.1f}" for s in SCENARIOS]
        print(key.ljust(28) + "".join(f"{c:>20}" for c in cells))
    misses = [
        f"{100 * long[s]['forgetting'][1]:.1f} / {100 * long[s]['forgetting'][2]:.1f}"
        for s in SCENARIOS
    ]
    print("forgetting missed low/high".ljust(28) + "".join(f"{c:>20}" for c in misses))
    print(f"({time.perf_counter() - start:.0f} s)")

    for scenario, methods in table.items():
        for key in metric_keys():
            coverage_ = methods["declared"][key][0]
            assert 0.93 <= coverage_ <= 0.97, (scenario, key, coverage_)
    for scenario, per_metric in long.items():  # 400 runs: one standard error 1.1 points
        assert per_metric["forgetting"][0] >= 0.92, (scenario, per_metric["forgetting"])
