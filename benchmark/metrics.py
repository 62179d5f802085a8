"""Accuracy matrix → continual-learning metrics, bootstrap intervals and paired tests.

The lowest floor of the package: numpy only, no models, no files, nothing imported from
``benchmark``. Every metric is defined once, in :func:`metric_arrays`, on a stack of
matrices of shape ``(..., T+1, T)``; the single-matrix functions and the bootstrap both
call it.

The accuracy matrix ``R`` (metric definitions version 1, see DESIGN.md): ``R[i][j]`` is the
accuracy (0–100) on task ``j`` of the model after step ``i``. Row 0 is the base model, rows
1..T follow each training step; columns are the tasks in training order. In the formulas
and in every message, steps count from 0 (the base model) and tasks from 1::

    last           = mean_j R[T][j]                              (= ACC, MFN)
    avg            = mean_{i=1..T} mean_{j<=i} R[i][j]           (= MAA)
    mft            = mean_j R[j][j]                              (plasticity)
    bwt            = mean_{j<T} (R[T][j] - R[j][j])              (negative = forgetting)
    forgetting     = mean_{j<T} (max_{j<=l<T} R[l][j] - R[T][j]) (positive = forgetting)
    fwt            = mean_{j>=2} (R[j-1][j] - R[0][j])           (positive = transfer)
    zero_shot_gain = mean_j (R[T][j] - R[0][j])

A missing cell is NaN, never 0. A metric that reads a missing cell is undefined (None), and
:func:`cl_metrics_explained` says which cell it needed. With T = 1, ``bwt``,
``forgetting`` and ``fwt`` are undefined (never 0); without a base row, ``fwt`` and
``zero_shot_gain`` are.

Uncertainty comes from per-item scores: :func:`bootstrap_metrics` resamples the items of
each task (the same resample at every step, since every step answers the same items) and
reports percentile intervals; :func:`paired_test` compares two entries on the same items
and :func:`rank_groups` turns those tests into rank groups.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "HIGHER_IS_BETTER",
    "METRICS",
    "METRIC_DEFINITIONS_VERSION",
    "Interval",
    "MetricValue",
    "PairedResult",
    "bootstrap_matrices",
    "bootstrap_metrics",
    "cl_metrics",
    "cl_metrics_explained",
    "metric_arrays",
    "paired_test",
    "probe_drops",
    "rank_groups",
]

METRIC_DEFINITIONS_VERSION = 1
"""Bumped whenever a definition below changes; results.json records it."""

METRICS: tuple[str, ...] = ("last", "avg", "mft", "bwt", "forgetting", "fwt", "zero_shot_gain")
"""Every metric, in the order the outputs list them."""

HIGHER_IS_BETTER: dict[str, bool] = {
    "last": True,
    "avg": True,
    "mft": True,
    "bwt": True,
    "forgetting": False,
    "fwt": True,
    "zero_shot_gain": True,
}
"""The direction in which each metric improves (used by :func:`rank_groups`)."""

_NEEDS_TWO_STEPS = frozenset({"bwt", "forgetting", "fwt"})
_NEEDS_BASE_ROW = frozenset({"fwt", "zero_shot_gain"})
_CHUNK_ELEMENTS = 1 << 22  # resampling draws at most this many indices at once (32 MiB)
_SINGLE_THREAD_ELEMENTS = 1 << 18  # see _weighted_sums
_ONE_CALL_ELEMENTS = 1 << 22  # larger products: one call, threads allowed


@dataclass(frozen=True)
class MetricValue:
    """One metric of one matrix: its value, or None and the reason it is undefined."""

    value: float | None
    reason: str | None = None


@dataclass(frozen=True)
class Interval:
    """A point estimate with its bootstrap percentile interval.

    ``ci95`` holds the interval at the requested ``level`` (0.95 unless asked otherwise);
    it and ``value`` are None, with a ``reason``, when the metric is undefined.
    """

    value: float | None
    ci95: tuple[float, float] | None
    reason: str | None = None


@dataclass(frozen=True)
class PairedResult:
    """Entry A minus entry B on one metric, from a paired bootstrap on shared items.

    ``diff`` is ``metric(A) - metric(B)``; ``p_value`` is two-sided (see
    :func:`paired_test`). All three are None, with a ``reason``, when the metric is
    undefined for either entry.
    """

    diff: float | None
    ci95: tuple[float, float] | None
    p_value: float | None
    reason: str | None = None


# --------------------------------------------------------------------------- definitions


def metric_arrays(R: ArrayLike, *, base_row: bool = True) -> dict[str, np.ndarray]:
    """Every metric of one matrix or of a stack of matrices, NaN where undefined.

    This is where the definitions live. ``R`` has shape ``(..., T+1, T)`` (or
    ``(..., T, T)`` with ``base_row=False``); each result has shape ``...`` (a 0-d array for
    one matrix). A metric is NaN exactly when it reads a NaN cell or is undefined for the
    shape (T = 1, no base row). No validation of values: see :func:`cl_metrics` for that.
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
    batch = stack.shape[:-2]
    steps = stack[..., 1:, :]  # steps 1..T, shape (..., T, T)
    final = steps[..., -1, :]  # R[T][j]
    diag = np.diagonal(steps, axis1=-2, axis2=-1)  # R[j][j], j = 1..T
    lower = np.tril(np.ones((T, T), dtype=bool))  # j <= i

    out: dict[str, np.ndarray] = {}
    out["last"] = final.mean(axis=-1)
    seen_sums = np.where(lower, steps, 0.0).sum(axis=-1)  # sum_{j<=i} R[i][j]
    out["avg"] = (seen_sums / np.arange(1, T + 1)).mean(axis=-1)
    out["mft"] = diag.mean(axis=-1)
    if T >= 2:
        out["bwt"] = (final[..., :-1] - diag[..., :-1]).mean(axis=-1)
        # max over steps l = j..T-1 of R[l][j], for tasks j = 1..T-1
        before_last = steps[..., :-1, :-1]
        best = np.where(lower[:-1, :-1], before_last, -np.inf).max(axis=-2)
        out["forgetting"] = (best - final[..., :-1]).mean(axis=-1)
        # R[j-1][j] sits on the diagonal of the full (T+1) x T matrix, j = 2..T
        before_training = np.diagonal(stack, axis1=-2, axis2=-1)[..., 1:]
        out["fwt"] = (before_training - stack[..., 0, 1:]).mean(axis=-1)
    else:
        for name in ("bwt", "forgetting", "fwt"):
            out[name] = np.full(batch, np.nan)
    out["zero_shot_gain"] = (final - stack[..., 0, :]).mean(axis=-1)
    return {name: out[name] for name in METRICS}


def _needed_cells(name: str, T: int) -> list[tuple[int, int]]:
    """The cells (step, task), 1-based tasks, that metric ``name`` reads."""
    tasks = range(1, T + 1)
    if name == "last":
        return [(T, j) for j in tasks]
    if name == "avg":
        return [(i, j) for i in tasks for j in range(1, i + 1)]
    if name == "mft":
        return [(j, j) for j in tasks]
    if name == "bwt":
        return [cell for j in range(1, T) for cell in ((j, j), (T, j))]
    if name == "forgetting":
        return [(i, j) for j in range(1, T) for i in range(j, T + 1)]
    if name == "fwt":
        return [cell for j in range(2, T + 1) for cell in ((0, j), (j - 1, j))]
    if name == "zero_shot_gain":
        return [cell for j in tasks for cell in ((0, j), (T, j))]
    raise ValueError(f"unknown metric {name!r}; expected one of {', '.join(METRICS)}")


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


def _structural_reason(name: str, T: int, base_row: bool) -> str | None:
    if name in _NEEDS_TWO_STEPS and T < 2:
        return f"needs at least two steps (T = {T})"
    if name in _NEEDS_BASE_ROW and not base_row:
        return "needs the base model's row (step 0), and the matrix has none (base_row=False)"
    return None


def _explain(full: np.ndarray, base_row: bool) -> dict[str, MetricValue]:
    """Values and reasons for a validated (T+1) x T matrix (NaN base row if none)."""
    T = full.shape[1]
    values = metric_arrays(full)
    out: dict[str, MetricValue] = {}
    for name in METRICS:
        reason = _structural_reason(name, T, base_row)
        if reason is None:
            missing = [(i, j) for i, j in _needed_cells(name, T) if np.isnan(full[i, j - 1])]
            if missing:
                reason = _missing_reason(missing)
        value = float(values[name])
        out[name] = MetricValue(None, reason) if reason else MetricValue(value)
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
    :data:`METRICS`, in that order; reasons read like ``"needs R[2][1] (step 2, task 1),
    which is missing"`` or ``"needs at least two steps (T = 1)"``.
    """
    return _explain(_full_matrix(R, base_row), base_row)


def cl_metrics(R: ArrayLike, base_row: bool = True) -> dict[str, float | None]:
    """The metrics of an accuracy matrix: ``{name: value or None}``, keys as :data:`METRICS`.

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


# --------------------------------------------------------------------------- bootstrap


def _item_arrays(
    item_scores: Sequence[ArrayLike], base_row: bool, what: str = "item_scores"
) -> list[np.ndarray]:
    """Validate per-task item scores: each (n_steps, n_items) in [0, 1], rows all-NaN or none."""
    T = len(item_scores)
    if T < 1:
        raise ValueError(f"{what} must hold one array per task; got none")
    n_steps = T + 1 if base_row else T
    first_step = 0 if base_row else 1
    arrays = []
    for j, scores in enumerate(item_scores, start=1):
        a = np.array(scores, dtype=float)
        if a.ndim != 2 or a.shape[0] != n_steps or a.shape[1] < 1:
            raise ValueError(
                f"{what}[{j - 1}] (task {j}) has shape {a.shape}; expected (n_steps, n_items) = "
                f"({n_steps}, n) with n >= 1 for T = {T} tasks "
                f"({'with' if base_row else 'without'} a base row)"
            )
        nan = np.isnan(a)
        partial = nan.any(axis=1) & ~nan.all(axis=1)
        if partial.any():
            i = int(np.flatnonzero(partial)[0])
            raise ValueError(
                f"{what}[{j - 1}] (task {j}), step {i + first_step}: "
                f"{int(nan[i].sum())} of {a.shape[1]} item scores are NaN; a cell is either "
                "complete or missing (all NaN)"
            )
        bad = ~nan & ~((a >= 0) & (a <= 1))
        if bad.any():
            i, n = (int(x) for x in np.argwhere(bad)[0])
            raise ValueError(
                f"{what}[{j - 1}] (task {j}), step {i + first_step}, item {n}: "
                f"score {float(a[i, n])!r} is outside [0, 1]"
            )
        arrays.append(a)
    return arrays


def _cell_means(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """Per-cell accuracy (0–100), shape (n_steps, T); a missing cell's row of NaN stays NaN."""
    return np.stack([a.mean(axis=1) for a in arrays], axis=1) * 100.0


def _resampled_means(
    arrays: Sequence[np.ndarray], n_boot: int, rng: np.random.Generator
) -> np.ndarray:
    """Bootstrap replicates of the cell means, shape (n_boot, n_steps, T), 0–100.

    Per task, every replicate draws its items once (with replacement) and the same draw
    serves every row: a (replicates × items) count matrix times the score matrix. Tasks
    are drawn independently, one after another from ``rng``.
    """
    n_rows = arrays[0].shape[0]
    out = np.empty((n_boot, n_rows, len(arrays)))
    for j, a in enumerate(arrays):
        n = a.shape[1]
        missing = np.isnan(a).all(axis=1)
        scores_t = np.where(missing[:, None], 0.0, a).T.copy()  # (n, n_rows)
        chunk = max(1, min(n_boot, _CHUNK_ELEMENTS // n))
        for start in range(0, n_boot, chunk):
            b = min(chunk, n_boot - start)
            draws = rng.integers(0, n, size=(b, n))
            draws += (np.arange(b) * n)[:, None]
            counts = np.bincount(draws.ravel(), minlength=b * n).reshape(b, n)
            _weighted_sums(counts.astype(float), scores_t, out[start : start + b, :, j])
        out[:, :, j] *= 100.0 / n
        out[:, missing, j] = np.nan
    return out


def _weighted_sums(counts: np.ndarray, scores_t: np.ndarray, out: np.ndarray) -> None:
    """``out[:] = counts @ scores_t``, in blocks small enough to run on one BLAS thread.

    A product this skinny (few steps) gains nothing from threads, and threaded OpenBLAS
    slows down badly when other processes compete for the cores, so small products are
    cut into blocks under OpenBLAS's single-thread size (m * n * k <= 2**18). Large
    products, where threads pay off, are left in one call.
    """
    b, n = counts.shape
    per_row = n * scores_t.shape[1]
    if b * per_row > _ONE_CALL_ELEMENTS:
        np.matmul(counts, scores_t, out=out)
        return
    step = max(1, _SINGLE_THREAD_ELEMENTS // per_row)
    for start in range(0, b, step):
        np.matmul(counts[start : start + step], scores_t, out=out[start : start + step])


def _check_boot(n_boot: int, level: float) -> None:
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1, got {n_boot}")
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")


def bootstrap_matrices(
    item_scores: Sequence[ArrayLike], *, base_row: bool = True, n_boot: int = 1000, seed: int = 0
) -> np.ndarray:
    """Bootstrap replicates of the accuracy matrix from per-item scores.

    ``item_scores[j]`` is an array (n_steps, n_items_j) of scores in [0, 1] for task j at
    every step (n_steps = T+1 with ``base_row``, else T), the same items in the same order
    at every step; a missing cell is a row of NaN. Returns (n_boot, n_steps, T), values
    0–100. Paired: in each replicate a task's items are resampled once and that resample
    is used at every step. The same ``seed`` gives the same replicates.
    """
    _check_boot(n_boot, 0.5)
    arrays = _item_arrays(item_scores, base_row)
    return _resampled_means(arrays, n_boot, np.random.default_rng(seed))


def _percentiles(samples: np.ndarray, level: float) -> tuple[float, float]:
    tail = (1.0 - level) / 2.0
    lo, hi = np.quantile(samples, [tail, 1.0 - tail])
    return float(lo), float(hi)


def bootstrap_metrics(
    item_scores: Sequence[ArrayLike],
    *,
    base_row: bool = True,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, Interval]:
    """Every metric with a paired-bootstrap percentile interval.

    ``item_scores`` as in :func:`bootstrap_matrices`. The point estimate is
    ``cl_metrics`` of the per-cell means × 100; the interval is the ``level`` percentile
    interval of the metric over ``n_boot`` replicates. Keys are :data:`METRICS`.

    ``forgetting`` takes a maximum over steps, which noise pushes up: where the steps before
    the last differ little next to their sampling noise, its replicates sit above the point
    estimate and the interval can miss it. The other metrics are linear in the cells.
    """
    _check_boot(n_boot, level)
    arrays = _item_arrays(item_scores, base_row)
    point = cl_metrics_explained(_cell_means(arrays), base_row)
    replicates = metric_arrays(
        _resampled_means(arrays, n_boot, np.random.default_rng(seed)), base_row=base_row
    )
    out: dict[str, Interval] = {}
    for name in METRICS:
        m = point[name]
        if m.value is None:
            out[name] = Interval(None, None, m.reason)
        else:
            out[name] = Interval(m.value, _percentiles(replicates[name], level))
    return out


# --------------------------------------------------------------------------- comparisons


def _check_metric(metric: str) -> None:
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; expected one of {', '.join(METRICS)}")


def paired_test(
    a_items: Sequence[ArrayLike],
    b_items: Sequence[ArrayLike],
    metric: str,
    *,
    base_row: bool = True,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> PairedResult:
    """Compare two entries on one metric: ``metric(A) - metric(B)``, paired on items.

    ``a_items`` and ``b_items`` are per-task item scores as in :func:`bootstrap_matrices`,
    for the same suite: the same tasks, and the same items in the same order. The test
    uses the items both entries answered: an item whose score is NaN in a cell that is not
    missing (not all NaN) is dropped from both. Each replicate resamples a task's items
    once and applies that resample to both entries and every step.

    The p-value is two-sided, read off the bootstrap distribution of the difference:
    ``p = min(1, 2 * min((#{d* <= 0} + 1) / (B + 1), (#{d* >= 0} + 1) / (B + 1)))`` — the
    smallest two-sided level whose percentile interval excludes 0 (so p < 1 − ``level``
    roughly when ``ci95`` excludes 0), with the +1 keeping p above 0 for finite B.
    Identical entries give p = 1.
    """
    _check_metric(metric)
    _check_boot(n_boot, level)
    a_raw = [np.array(x, dtype=float) for x in a_items]
    b_raw = [np.array(x, dtype=float) for x in b_items]
    if len(a_raw) != len(b_raw):
        raise ValueError(
            f"the entries have {len(a_raw)} and {len(b_raw)} tasks; "
            "a paired test needs the same suite"
        )
    a_shared, b_shared = [], []
    for j, (a, b) in enumerate(zip(a_raw, b_raw, strict=True), start=1):
        if a.shape != b.shape:
            raise ValueError(
                f"task {j}: item scores of shape {a.shape} and {b.shape}; a paired "
                "test needs the same steps and items for both entries"
            )
        if a.ndim == 2:  # other shapes are reported by _item_arrays below
            answered = np.ones(a.shape[1], dtype=bool)
            for x in (a, b):
                present = ~np.isnan(x).all(axis=1)
                answered &= ~np.isnan(x[present]).any(axis=0)
            if not answered.any():
                raise ValueError(f"task {j}: no item is answered by both entries at every step")
            a, b = a[:, answered], b[:, answered]
        a_shared.append(a)
        b_shared.append(b)
    a_arr = _item_arrays(a_shared, base_row, "a_items")
    b_arr = _item_arrays(b_shared, base_row, "b_items")

    a_point = cl_metrics_explained(_cell_means(a_arr), base_row)[metric]
    b_point = cl_metrics_explained(_cell_means(b_arr), base_row)[metric]
    if a_point.value is None or b_point.value is None:
        which = "A" if a_point.value is None else "B"
        reason = a_point.reason if a_point.value is None else b_point.reason
        return PairedResult(None, None, None, f"{metric} is undefined for entry {which}: {reason}")

    n_steps = a_arr[0].shape[0]
    joint = [np.vstack([a, b]) for a, b in zip(a_arr, b_arr, strict=True)]
    stack = _resampled_means(joint, n_boot, np.random.default_rng(seed))
    d = (
        metric_arrays(stack[:, :n_steps], base_row=base_row)[metric]
        - metric_arrays(stack[:, n_steps:], base_row=base_row)[metric]
    )
    below = (np.count_nonzero(d <= 0) + 1) / (n_boot + 1)
    above = (np.count_nonzero(d >= 0) + 1) / (n_boot + 1)
    p_value = min(1.0, 2.0 * min(below, above))
    return PairedResult(a_point.value - b_point.value, _percentiles(d, level), float(p_value))


def rank_groups(
    entries: Mapping[str, Sequence[ArrayLike]],
    metric: str,
    *,
    higher_is_better: bool | None = None,
    alpha: float = 0.05,
    base_row: bool = True,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, int | None]:
    """Rank groups (1, 2, …) of entries on one suite by one metric.

    ``entries`` maps an entry's name to its per-task item scores (as in
    :func:`bootstrap_matrices`). Entries are sorted by their point estimate, best first
    (``higher_is_better`` defaults to :data:`HIGHER_IS_BETTER`; ties by name). The best
    opens group 1 as its leader; each following entry that :func:`paired_test` cannot
    separate from the current group's leader (p >= ``alpha``) joins that group; the first
    that it can separate opens the next group and leads it; and so on. An entry whose
    metric is undefined gets None. The result lists the entries best first, undefined last.
    """
    _check_metric(metric)
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
    higher = HIGHER_IS_BETTER[metric] if higher_is_better is None else higher_is_better
    values: dict[str, float | None] = {}
    for name, items in entries.items():
        arrays = _item_arrays(items, base_row, f"entries[{name!r}]")
        values[name] = cl_metrics_explained(_cell_means(arrays), base_row)[metric].value
    sign = -1.0 if higher else 1.0
    defined = {n: v for n, v in values.items() if v is not None}
    ranked = sorted(defined, key=lambda n: (sign * defined[n], n))
    groups: dict[str, int | None] = {}
    group, leader = 0, None
    for name in ranked:
        if leader is not None:
            test = paired_test(
                entries[leader], entries[name], metric, base_row=base_row, n_boot=n_boot, seed=seed
            )
            if test.p_value is not None and test.p_value >= alpha:
                groups[name] = group
                continue
        group += 1
        leader = name
        groups[name] = group
    for name, value in values.items():
        if value is None:
            groups[name] = None
    return groups
