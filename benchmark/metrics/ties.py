"""Maxima over steps that may tie: the recentred point of the moment-selection interval.

``forgetting`` takes, per task, the best accuracy over several steps. Where the true
accuracies of those steps tie or nearly tie (a task kept at one level until the last step),
the observed best is the luckiest of them: the plug-in value sits above the truth, and its
bootstrap replicates (the luckiest of the resampled steps, around the observed values, whose
gaps noise has widened) do not show how far, so percentile and BCa lower ends miss the truth
from above.

The moment-selection interval (after generalized moment selection, Andrews & Soares 2010)
takes its lower end from the error the metric would have if the steps that the data cannot
tell from the best were exactly tied with it: the least favourable case for the lower end
that the data do not rule out. In each task, a step counts as tied with the best when its
gap below the best is no larger than the gap that noise alone opens in
:data:`TIE_LEVEL` of the replicates were all the task's steps tied: the quantile of
``max_m e_m − e_l`` over the replicates, ``e`` a replicate's deviation from the point. The
threshold so follows the number of steps (the luckiest of 19 tied steps stands further
above the rest than the luckier of 2) and their correlation, without a normal approximation.
:func:`tie_selected_point` sets those steps to the best one's value; the replicates of the
metric at that point plus each replicate's deviations give the error distribution.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

TIE_LEVEL = 0.9
"""The share of replicates whose noise-only gap a step's gap must not exceed to count as tied.

Chosen by the coverage study (tests/perf/test_interval_coverage.py, README "Intervals"): a
higher level ties more steps and makes the lower end more conservative where steps are close
but apart; a lower level leaves truly tied steps out and the lower end too high."""


def tie_selected_point(
    point: np.ndarray, replicates: np.ndarray, maxed: Sequence[tuple[int, int]]
) -> np.ndarray:
    """The point matrix with each maximum's near-tied cells set to the best cell's value.

    ``point`` is (T+1, T) and ``replicates`` (B, T+1, T), row 0 the base model; ``maxed``
    lists the (step, 1-based task) cells that enter the metric only through one maximum per
    task. In each task, every maxed cell within noise of the best (see the module) takes the
    best cell's value, so the metric of the result equals the metric of ``point``. A task with
    a missing cell among its maxed cells is left as it is.
    """
    out = point.copy()
    steps_of: dict[int, list[int]] = {}
    for step, task in maxed:
        steps_of.setdefault(task - 1, []).append(step)
    for column, steps in steps_of.items():
        rows = np.array(sorted(steps))
        values = point[rows, column]
        if np.isnan(values).any():
            continue
        gap = values.max() - values
        deviation = replicates[:, rows, column] - values
        noise_gap = deviation.max(axis=1, keepdims=True) - deviation
        tied = gap <= np.quantile(noise_gap, TIE_LEVEL, axis=0)
        out[rows[tied], column] = values.max()
    return out
