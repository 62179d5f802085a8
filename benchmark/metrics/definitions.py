"""THE table of continual-learning metrics, and the functions of an accuracy matrix.

The accuracy matrix ``R`` (see DESIGN.md): ``R[i][j]`` is the
accuracy (0–100) on task ``j`` of the model after step ``i``. Row 0 is the base model, rows
1..T follow each training step; columns are the tasks in training order. In the formulas
and in every message, steps count from 0 (the base model) and tasks from 1.

Every metric is one row of :data:`METRIC_TABLE` (a :class:`MetricDefinition`): its key,
label, formula and meaning (what the CLI, ``results.json`` and the site show), the
direction in which it improves, what it needs (two steps, the base row), the cells it reads
(for the reason a value is undefined), whether it is a leaderboard column, the method of
its interval (a key of :data:`~benchmark.metrics.intervals.INTERVAL_METHODS`), and its
``compute`` function on a stack of matrices of shape ``(..., T+1, T)``. Adding a metric is
adding a row: the ``metrics`` command, ``results.json`` (with its bootstrap interval), the
leaderboard's table and its CSV all read this table. Everything reads it through
:func:`metric_table` at call time.

A missing cell is NaN, never 0. A metric that reads a missing cell is undefined (None), and
:func:`cl_metrics_explained` says which cell it needed. With T = 1, the metrics that need
two steps are undefined (never 0); without a base row, those that need it are.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

METRIC_DEFINITIONS_VERSION = 3
"""Bumped whenever a definition below changes; results.json records it.

1: the seven metrics, percentile intervals. 2: the same metrics; each declares its interval
method (:mod:`benchmark.metrics.intervals`): tie-aware for ``forgetting``, BCa for the others.
3: ``forgetting``'s interval by moment selection (lower end) and BCa (upper end); the
tie-aware interval was conservative where steps are close and at many steps (README,
"Intervals").
"""

Cells = list[tuple[int, int]]


@dataclass(frozen=True)
class Parts:
    """The pieces of a stack of full matrices ``(..., T+1, T)`` that formulas read."""

    full: np.ndarray  # R, with row 0 the base model
    T: int

    @property
    def steps(self) -> np.ndarray:  # rows 1..T, (..., T, T)
        return self.full[..., 1:, :]

    @property
    def final(self) -> np.ndarray:  # R[T][j]
        return self.full[..., -1, :]

    @property
    def diag(self) -> np.ndarray:  # R[j][j], j = 1..T
        return np.diagonal(self.steps, axis1=-2, axis2=-1)

    @property
    def lower(self) -> np.ndarray:  # j <= i over steps 1..T
        return np.tril(np.ones((self.T, self.T), dtype=bool))


@dataclass(frozen=True)
class MetricDefinition:
    """One metric: what it is called, what it means, and how it is computed."""

    key: str
    label: str
    formula: str  # as DESIGN.md writes it
    meaning: str  # one sentence for readers of the site
    reads: str  # how to read its sign: "higher is better", "negative = forgetting"
    summary: str  # one line for the ``metrics`` command
    higher_is_better: bool
    signed: bool  # a difference: shown with its sign
    compute: Callable[[Parts], np.ndarray]  # (..., T+1, T) -> (...), NaN where a cell is NaN
    cells: Callable[[int], Cells]  # the cells (step, 1-based task) it reads, for T tasks
    min_steps: int = 1
    needs_base_row: bool = False
    leaderboard: bool = False  # a column of the leaderboard's table
    interval: str = "bca"  # how its interval is computed: a key of intervals.INTERVAL_METHODS
    # the cells that enter only through a maximum over steps, one maximum per task (column);
    # the "moment-selection" interval needs them
    maxed: Callable[[int], Cells] | None = None


def _last(p: Parts) -> np.ndarray:
    return p.final.mean(axis=-1)


def _avg(p: Parts) -> np.ndarray:
    seen_sums = np.where(p.lower, p.steps, 0.0).sum(axis=-1)  # sum_{j<=i} R[i][j]
    return (seen_sums / np.arange(1, p.T + 1)).mean(axis=-1)


def _mft(p: Parts) -> np.ndarray:
    return p.diag.mean(axis=-1)


def _bwt(p: Parts) -> np.ndarray:
    return (p.final[..., :-1] - p.diag[..., :-1]).mean(axis=-1)


def _forgetting(p: Parts) -> np.ndarray:
    # max over steps l = j..T-1 of R[l][j], for tasks j = 1..T-1
    before_last = p.steps[..., :-1, :-1]
    best = np.where(p.lower[:-1, :-1], before_last, -np.inf).max(axis=-2)
    return (best - p.final[..., :-1]).mean(axis=-1)


def _fwt(p: Parts) -> np.ndarray:
    # R[j-1][j] sits on the diagonal of the full (T+1) x T matrix, j = 2..T
    before_training = np.diagonal(p.full, axis1=-2, axis2=-1)[..., 1:]
    return (before_training - p.full[..., 0, 1:]).mean(axis=-1)


def _zero_shot_gain(p: Parts) -> np.ndarray:
    return (p.final - p.full[..., 0, :]).mean(axis=-1)


METRIC_TABLE: tuple[MetricDefinition, ...] = (
    MetricDefinition(
        key="last",
        label="last",
        formula="mean_j R[T][j]",
        meaning="Accuracy on all tasks after the final step (also called ACC or MFN).",
        reads="higher is better",
        summary="mean of the final row (ACC, MFN); higher is better",
        higher_is_better=True,
        signed=False,
        compute=_last,
        cells=lambda T: [(T, j) for j in range(1, T + 1)],
        leaderboard=True,
    ),
    MetricDefinition(
        key="avg",
        label="avg",
        formula="mean over i=1..T of mean_{j≤i} R[i][j]",
        meaning="Average accuracy on the tasks seen so far, over all steps (MAA).",
        reads="higher is better",
        summary="mean over steps of the mean over tasks seen so far (MAA); higher is better",
        higher_is_better=True,
        signed=False,
        compute=_avg,
        cells=lambda T: [(i, j) for i in range(1, T + 1) for j in range(1, i + 1)],
        leaderboard=True,
    ),
    MetricDefinition(
        key="mft",
        label="mft",
        formula="mean_j R[j][j]",
        meaning="Accuracy on each task right after learning it (plasticity).",
        reads="higher is better",
        summary="mean of R[j][j], each task just after learning it; higher is better",
        higher_is_better=True,
        signed=False,
        compute=_mft,
        cells=lambda T: [(j, j) for j in range(1, T + 1)],
    ),
    MetricDefinition(
        key="bwt",
        label="bwt",
        formula="mean_{j<T} (R[T][j] − R[j][j])",
        meaning="Backward transfer (GEM): how accuracy on earlier tasks changed by the end.",
        reads="negative = forgetting",
        summary="mean of R[T][j] - R[j][j], j < T; negative = forgetting",
        higher_is_better=True,
        signed=True,
        compute=_bwt,
        cells=lambda T: [cell for j in range(1, T) for cell in ((j, j), (T, j))],
        min_steps=2,
        leaderboard=True,
    ),
    MetricDefinition(
        key="forgetting",
        label="forgetting",
        formula="mean_{j<T} (max_{j≤l<T} R[l][j] − R[T][j])",
        meaning="Forgetting (Chaudhry): drop from each task's best accuracy to its final one.",
        reads="positive = forgetting; can be negative",
        summary="mean of best earlier R[l][j] - R[T][j], j < T; positive = forgetting",
        higher_is_better=False,
        signed=True,
        compute=_forgetting,
        cells=lambda T: [(i, j) for j in range(1, T) for i in range(j, T + 1)],
        min_steps=2,
        leaderboard=True,
        interval="moment-selection",
        maxed=lambda T: [(i, j) for j in range(1, T) for i in range(j, T)],
    ),
    MetricDefinition(
        key="fwt",
        label="fwt",
        formula="mean_{j≥2} (R[j−1][j] − R[0][j])",
        meaning="Forward transfer (GEM), with the base model as the reference: accuracy on a "
        "task just before learning it, relative to the base model.",
        reads="positive = transfer",
        summary="mean of R[j-1][j] - R[0][j], j >= 2; positive = transfer",
        higher_is_better=True,
        signed=True,
        compute=_fwt,
        cells=lambda T: [cell for j in range(2, T + 1) for cell in ((0, j), (j - 1, j))],
        min_steps=2,
        needs_base_row=True,
        leaderboard=True,
    ),
    MetricDefinition(
        key="zero_shot_gain",
        label="zero-shot gain",
        formula="mean_j (R[T][j] − R[0][j])",
        meaning="Final accuracy relative to the base model, per task.",
        reads="positive = better than the base model",
        summary="mean of R[T][j] - R[0][j]; positive = gain over the base model",
        higher_is_better=True,
        signed=True,
        compute=_zero_shot_gain,
        cells=lambda T: [cell for j in range(1, T + 1) for cell in ((0, j), (T, j))],
        needs_base_row=True,
    ),
)
"""Every metric, in the order the outputs list them."""


def metric_table() -> tuple[MetricDefinition, ...]:
    """The metric table (read at call time, so that a test may extend it)."""
    return METRIC_TABLE


def metric_keys() -> tuple[str, ...]:
    return tuple(d.key for d in metric_table())


def definition(key: str) -> MetricDefinition:
    for d in metric_table():
        if d.key == key:
            return d
    raise ValueError(f"unknown metric {key!r}; expected one of {', '.join(metric_keys())}")


@dataclass(frozen=True)
class MetricValue:
    """One metric of one matrix: its value, or None and the reason it is undefined."""

    value: float | None
    reason: str | None = None


def metric_arrays(R: ArrayLike, *, base_row: bool = True) -> dict[str, np.ndarray]:
    """Every metric of one matrix or of a stack of matrices, NaN where undefined.

    ``R`` has shape ``(..., T+1, T)`` (or ``(..., T, T)`` with ``base_row=False``); each
    result has shape ``...`` (a 0-d array for one matrix). A metric is NaN exactly when it
    reads a NaN cell or is undefined for the shape (T below its ``min_steps``, no base row).
    No validation of values: see :func:`cl_metrics` for that.
    """
    stack = np.asarray(R, dtype=float)
    if stack.ndim < 2:
        raise ValueError(f"R must have at least 2 dimensions, got shape {stack.shape}")
    T = stack.shape[-1]
    if not base_row:
        nan_row = np.full((*stack.shape[:-2], 1, T), np.nan)
        stack = np.concatenate([nan_row, stack], axis=-2)
    if T < 1 or stack.shape[-2] != T + 1:
        raise ValueError(f"R has matrices of shape {stack.shape[-2:]}; expected {(T + 1, T)}")
    parts = Parts(stack, T)
    batch = stack.shape[:-2]
    out: dict[str, np.ndarray] = {}
    for d in metric_table():
        out[d.key] = np.full(batch, np.nan) if d.min_steps > T else d.compute(parts)
    return out


def _cell(step: int, task: int) -> str:
    return f"R[{step}][{task}] (step {step}, task {task})"


def _missing_reason(cells: Sequence[tuple[int, int]]) -> str:
    shown = [_cell(*cells[0]), *(f"R[{i}][{j}]" for i, j in cells[1:3])]
    more = len(cells) - len(shown)
    if more:
        listed = f"{', '.join(shown)} and {more} more cell{'s' if more > 1 else ''}"
    elif len(shown) > 1:
        listed = f"{', '.join(shown[:-1])} and {shown[-1]}"
    else:
        listed = shown[0]
    return f"needs {listed}, which {'is' if len(cells) == 1 else 'are'} missing"


def _structural_reason(d: MetricDefinition, T: int, base_row: bool) -> str | None:
    if d.min_steps > T:
        count = {2: "two", 3: "three"}.get(d.min_steps, str(d.min_steps))
        return f"needs at least {count} steps (T = {T})"
    if d.needs_base_row and not base_row:
        return "needs the base model's row (step 0), and the matrix has none (base_row=False)"
    return None


def _explain(full: np.ndarray, base_row: bool) -> dict[str, MetricValue]:
    """Values and reasons for a validated (T+1) x T matrix (NaN base row if none)."""
    T = full.shape[1]
    values = metric_arrays(full)
    out: dict[str, MetricValue] = {}
    for d in metric_table():
        reason = _structural_reason(d, T, base_row)
        if reason is None:
            missing = [(i, j) for i, j in d.cells(T) if np.isnan(full[i, j - 1])]
            if missing:
                reason = _missing_reason(missing)
        value = float(values[d.key])
        out[d.key] = MetricValue(None, reason) if reason else MetricValue(value)
    return out


def _full_matrix(R: ArrayLike, base_row: bool) -> np.ndarray:
    """Validate ``R`` and return it as a (T+1) x T float array (NaN base row if none)."""
    try:
        matrix = np.array(R, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"R must be a rectangular 2-D array of numbers: {exc}") from None
    if matrix.ndim != 2:
        raise ValueError(
            f"R must be a 2-D matrix; found {matrix.ndim} dimension(s), shape {matrix.shape}"
        )
    rows, T = matrix.shape
    if T < 1:
        raise ValueError(f"R has shape {matrix.shape}: it needs at least one task (column)")
    expected = (T + 1, T) if base_row else (T, T)
    if (rows, T) != expected:
        what = (
            "a base-model row plus one row per step, (T+1) x T"
            if base_row
            else "one row per step, T x T"
        )
        hint = ""
        if base_row and rows == T:
            hint = "; if it has no base-model row, use base_row=False (--no-base-row)"
        elif not base_row and rows == T + 1:
            hint = "; it looks like it has a base-model row: use base_row=True"
        raise ValueError(
            f"R has shape {matrix.shape}; expected {what} = {expected} for T = {T} tasks{hint}"
        )
    offset = 0 if base_row else 1
    bad = ~np.isnan(matrix) & ~((matrix >= 0) & (matrix <= 100))
    if bad.any():
        r, c = (int(x) for x in np.argwhere(bad)[0])
        raise ValueError(
            f"{_cell(r + offset, c + 1)} = {float(matrix[r, c])!r} is outside [0, 100] "
            "(accuracies are percentages; missing cells are NaN)"
        )
    if not base_row:
        matrix = np.vstack([np.full((1, T), np.nan), matrix])
    return matrix


def cl_metrics_explained(R: ArrayLike, base_row: bool = True) -> dict[str, MetricValue]:
    """Every metric of ``R`` with, for each undefined one, the reason.

    ``R`` is (T+1) x T with ``base_row`` (row 0 = base model), else T x T (rows = steps
    1..T). Values are 0–100, NaN (or None) where missing. Raises ValueError for any other
    shape or a value outside [0, 100], naming the shape or the cell. Keys are
    :func:`metric_keys`, in that order; reasons read like ``"needs R[2][1] (step 2, task 1),
    which is missing"`` or ``"needs at least two steps (T = 1)"``.
    """
    return _explain(_full_matrix(R, base_row), base_row)


def cl_metrics(R: ArrayLike, base_row: bool = True) -> dict[str, float | None]:
    """The metrics of an accuracy matrix: ``{name: value or None}``, keys as :func:`metric_keys`.

    See :func:`cl_metrics_explained` for the arguments, and for why a value is None.
    """
    return {name: m.value for name, m in cl_metrics_explained(R, base_row).items()}


# --------------------------------------------------------------------------- probes


def probe_drops(P: ArrayLike, names: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Per probe (a column evaluated at every step, never trained on): how it fell.

    ``P`` is (T+1) x K: row 0 the base model, rows 1..T after each step, values 0–100, NaN
    where missing. For each column, a dict with ``probe`` (the name, or the column index),
    ``series`` (P[0..T] as floats, NaN where missing), ``drop`` = P[0] − P[T] (positive =
    forgetting), ``max_drop`` = max over steps i = 1..T of P[0] − P[i] and ``max_drop_step``
    (the first step reaching it). Like the metrics, a value that needs a missing cell is
    None, and ``reason`` says which; ``reason`` is None otherwise.
    """
    matrix = np.array(P, dtype=float)
    if matrix.ndim != 2 or matrix.shape[0] < 2:
        raise ValueError(
            f"P must be a 2-D (T+1) x K matrix with T >= 1 (a base-model row and "
            f"one row per step); got shape {matrix.shape}"
        )
    K = matrix.shape[1]
    if names is not None and len(names) != K:
        raise ValueError(f"{len(names)} probe names for {K} probe columns")
    bad = ~np.isnan(matrix) & ~((matrix >= 0) & (matrix <= 100))
    if bad.any():
        r, c = (int(x) for x in np.argwhere(bad)[0])
        raise ValueError(
            f"P[{r}][{c}] (step {r}, probe {c}) = {float(matrix[r, c])!r} is outside [0, 100]"
        )
    T = matrix.shape[0] - 1
    out: list[dict[str, Any]] = []
    for k in range(K):
        column = matrix[:, k]
        missing = [int(i) for i in np.flatnonzero(np.isnan(column))]
        reason = _probe_missing(missing, k, names) if missing else None
        drop = None if np.isnan(column[0] - column[T]) else float(column[0] - column[T])
        max_drop = max_step = None
        if not missing:
            drops = column[0] - column[1:]  # steps i = 1..T
            max_step = int(np.argmax(drops)) + 1
            max_drop = float(drops[max_step - 1])
        out.append(
            {
                "probe": names[k] if names is not None else k,
                "series": [float(v) for v in column],
                "drop": drop,
                "max_drop": max_drop,
                "max_drop_step": max_step,
                "reason": reason,
            }
        )
    return out


def _probe_missing(steps: Sequence[int], k: int, names: Sequence[str] | None) -> str:
    label = repr(names[k]) if names is not None else str(k)
    listed = ", ".join(str(s) for s in steps)
    plural = "s" if len(steps) > 1 else ""
    return f"probe {label} is missing at step{plural} {listed}"
