"""Maxima over steps that may tie: the lower end of the tie-aware interval.

``forgetting`` takes, per task, the best accuracy over several steps. Where the true
accuracies of those steps tie (a task kept at one level until the last step), the observed
best is the luckiest of them, so the plug-in value sits above the truth, and its bootstrap
replicates (the luckiest of the resampled steps) do not show how far: percentile and BCa
intervals then miss the truth from above. The tie-aware interval takes its lower end from
a quantity that noise does not push up: in each task, the steps whose accuracy is within
κ = √(log n) standard errors (n items, the standard error of the difference from the best
step over the bootstrap replicates) of the best are taken as tied with it, and the maximum
is replaced by their mean. The mean of tied steps estimates their common value without the
upward pull; a maximum is at least the mean of any of its terms, so this lower end is
conservative where the steps are merely close. κ = √(log n) is the usual threshold of
generalized moment selection (Andrews & Soares 2010): it grows slowly enough that steps
truly apart are told apart as n grows, and fast enough that tied steps are kept together.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def tie_threshold(n_items: int) -> float:
    """κ = √(log n): how many standard errors below the best step count as a tie."""
    return math.sqrt(math.log(max(n_items, 1)))


def tied_means(
    point: np.ndarray,
    replicates: np.ndarray,
    maxed: Sequence[tuple[int, int]],
    n_items: Sequence[int],
) -> tuple[np.ndarray, np.ndarray]:
    """The point matrix and its replicates with each maximum's cells set to their tied mean.

    ``point`` is (T+1, T) and ``replicates`` (B, T+1, T), row 0 the base model; ``maxed``
    lists the (step, 1-based task) cells that enter the metric only through one maximum per
    task; ``n_items[j]`` is the number of items of task j + 1. In each task, every maxed cell
    becomes the mean of the cells tied with the best (see the module), in the point and in
    every replicate alike, so that the metric of the result takes the tied mean where it took
    the maximum. A task with a missing cell among them is left as it is.
    """
    out_point, out_reps = point.copy(), replicates.copy()
    steps_of: dict[int, list[int]] = {}
    for step, task in maxed:
        steps_of.setdefault(task - 1, []).append(step)
    for column, steps in steps_of.items():
        rows = np.array(sorted(steps))
        values = point[rows, column]
        if np.isnan(values).any():
            continue
        best = rows[np.argmax(values)]
        gap = point[best, column] - values
        spread = np.std(replicates[:, [best], column] - replicates[:, rows, column], axis=0)
        tied = rows[gap <= tie_threshold(n_items[column]) * spread]
        out_point[rows, column] = point[tied, column].mean()
        out_reps[:, rows, column] = replicates[:, tied, column].mean(axis=1, keepdims=True)
    return out_point, out_reps
