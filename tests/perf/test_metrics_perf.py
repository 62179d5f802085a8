"""Bootstrap speed: 1000 paired replicates of every metric, T = 20, 2000 items per task.

Run: ``.venv/bin/python -m pytest tests/perf/test_metrics_perf.py -s -p no:cacheprovider``.
Prints the best of three timings of ``bootstrap_metrics`` (resampling, per-step means,
all seven metrics over the replicates, and the percentile intervals); the target is under
2 s on a 2-core machine.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from benchmark.metrics import bootstrap_metrics

T, ITEMS, REPLICATES, TARGET_S = 20, 2000, 1000, 2.0


@pytest.mark.perf
def test_bootstrap_1000_replicates_t20_2000_items() -> None:
    rng = np.random.default_rng(0)
    # per task: a full (T+1) x items grid of 0/1 scores, correlated across steps
    items = []
    for _ in range(T):
        difficulty = rng.random(ITEMS)
        p = rng.uniform(0.3, 0.9, size=(T + 1, 1))
        noise = rng.random((T + 1, ITEMS)) < 0.1
        items.append(((difficulty < p) ^ noise).astype(float))

    timings = []
    for _ in range(3):
        start = time.perf_counter()
        result = bootstrap_metrics(items, n_boot=REPLICATES, seed=0)
        timings.append(time.perf_counter() - start)
    best = min(timings)
    print(
        f"\nbootstrap_metrics: {REPLICATES} replicates, T = {T}, {ITEMS} items per task: "
        f"best {best:.2f} s (runs: {', '.join(f'{t:.2f}' for t in timings)})"
    )
    assert all(interval.ci95 is not None for interval in result.values())
    assert best < TARGET_S, f"{best:.2f} s, target {TARGET_S} s"
