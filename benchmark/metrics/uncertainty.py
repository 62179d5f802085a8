"""Paired bootstrap intervals, paired tests between entries, rank groups."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from benchmark.metrics.definitions import (
    Parts,
    cl_metrics_explained,
    definition,
    metric_arrays,
    metric_keys,
    metric_table,
)
from benchmark.metrics.intervals import (
    BCA,
    INTERVAL_METHODS,
    MOMENT_SELECTION,
    interval_of,
    percentile_interval,
)
from benchmark.metrics.ties import tie_selected_point

_CHUNK_ELEMENTS = 1 << 22  # resampling draws at most this many indices at once (32 MiB)
_SINGLE_THREAD_ELEMENTS = 1 << 18  # see _weighted_sums
_ONE_CALL_ELEMENTS = 1 << 22  # larger products: one call, threads allowed
_JACKKNIFE_ELEMENTS = 1 << 21  # leave-one-out matrices stacked at once (16 MiB)


@dataclass(frozen=True)
class Interval:
    """A point estimate with its bootstrap interval.

    ``ci95`` holds the interval at the requested ``level`` (0.95 unless asked otherwise),
    computed by ``method`` (a key of :data:`~benchmark.metrics.intervals.INTERVAL_METHODS`);
    it always contains ``value``. ``value`` and ``ci95`` are None, with a ``reason``, when
    the metric is undefined.
    """

    value: float | None
    ci95: tuple[float, float] | None
    reason: str | None = None
    method: str | None = None


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


# --------------------------------------------------------------------------- bootstrap


def _item_arrays(
    item_scores: Sequence[ArrayLike], base_row: bool, what: str = "item_scores"
) -> list[np.ndarray]:
    """Validate per-task item scores: each (n_steps, n_items), rows all-NaN or none.

    Scores are finite and >= 0, and every cell's mean is at most 1 (an accuracy of 0–100).
    A single item may score above 1: a caption cell's per-item values (a share of its corpus
    metrics, :mod:`benchmark.scoring.caption`) do where an item's CIDEr exceeds 1.
    """
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
        bad = ~nan & ~((a >= 0) & np.isfinite(a))
        if bad.any():
            i, n = (int(x) for x in np.argwhere(bad)[0])
            raise ValueError(
                f"{what}[{j - 1}] (task {j}), step {i + first_step}, item {n}: "
                f"score {float(a[i, n])!r} is not a finite number >= 0"
            )
        means = a.mean(axis=1)
        high = ~np.isnan(means) & (means > 1)
        if high.any():
            i = int(np.flatnonzero(high)[0])
            raise ValueError(
                f"{what}[{j - 1}] (task {j}), step {i + first_step}: the mean score "
                f"{float(means[i])!r} is above 1 (an accuracy above 100)"
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

    ``item_scores[j]`` is an array (n_steps, n_items_j) of scores (>= 0, cell means <= 1)
    for task j at every step (n_steps = T+1 with ``base_row``, else T), the same items in the
    same order at every step; a missing cell is a row of NaN. Returns (n_boot, n_steps, T), values
    0–100. Paired: in each replicate a task's items are resampled once and that resample
    is used at every step. The same ``seed`` gives the same replicates.
    """
    _check_boot(n_boot, 0.5)
    arrays = _item_arrays(item_scores, base_row)
    return _resampled_means(arrays, n_boot, np.random.default_rng(seed))


def _jackknife_metrics(arrays: Sequence[np.ndarray], base_row: bool) -> dict[str, list[np.ndarray]]:
    """Every metric with each item left out in turn: ``{name: [per task, (n_items,)]}``.

    Leaving out item i of task k changes only column k of the cell means (to the mean of
    the other items, at every step); each metric is computed on a stack of such matrices.
    """
    means = _cell_means(arrays)
    out: dict[str, list[np.ndarray]] = {name: [] for name in metric_keys()}
    for k, a in enumerate(arrays):
        n = a.shape[1]
        if n < 2:
            for values in out.values():
                values.append(np.zeros(0))
            continue
        others = (a.sum(axis=1)[None, :] - a.T) * (100.0 / (n - 1))  # (n, n_steps)
        chunk = max(1, _JACKKNIFE_ELEMENTS // means.size)
        parts: dict[str, list[np.ndarray]] = {name: [] for name in out}
        for start in range(0, n, chunk):
            block = others[start : start + chunk]
            stack = np.broadcast_to(means, (len(block), *means.shape)).copy()
            stack[:, :, k] = block
            for name, values in metric_arrays(stack, base_row=base_row).items():
                parts[name].append(values)
        for name, values in parts.items():
            out[name].append(np.concatenate(values))
    return out


def bootstrap_metrics(
    item_scores: Sequence[ArrayLike],
    *,
    base_row: bool = True,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    methods: Mapping[str, str] | None = None,
) -> dict[str, Interval]:
    """Every metric with a paired-bootstrap interval, by the method its definition declares.

    ``item_scores`` as in :func:`bootstrap_matrices`. The point estimate is
    ``cl_metrics`` of the per-cell means × 100; the interval is computed from the metric
    over ``n_boot`` replicates by the metric's :attr:`MetricDefinition.interval` method
    (BCa: bias-corrected and accelerated, with the acceleration from the jackknife over
    each task's items; moment selection for a maximum over steps; see
    :mod:`benchmark.metrics.intervals`). Every interval contains its point estimate. Keys
    are :func:`metric_keys`. ``methods`` overrides the method of some metrics
    (``{"forgetting": "percentile"}``), for studies of the methods.

    ``forgetting`` takes a maximum over steps, which noise pushes up: where the steps before
    the last differ little next to their sampling noise, its replicates sit above the point
    estimate, and the plug-in value above the truth where steps tie: the moment-selection
    interval takes its lower end from the metric's error where the steps the data cannot
    tell from the best tie with it (:mod:`benchmark.metrics.ties`). The other metrics are
    linear in the cells.
    """
    _check_boot(n_boot, level)
    for name, method in (methods or {}).items():
        _check_metric(name)
        if method not in INTERVAL_METHODS:
            raise ValueError(
                f"unknown interval method {method!r}; expected one of {', '.join(INTERVAL_METHODS)}"
            )
    chosen = {d.key: d.interval for d in metric_table()} | dict(methods or {})
    arrays = _item_arrays(item_scores, base_row)
    means = _cell_means(arrays)
    point = cl_metrics_explained(means, base_row)
    stack = _resampled_means(arrays, n_boot, np.random.default_rng(seed))
    replicates = metric_arrays(stack, base_row=base_row)
    needs_jackknife = {BCA, MOMENT_SELECTION} & set(chosen.values())
    jackknife = _jackknife_metrics(arrays, base_row) if needs_jackknife else {}
    if not base_row:  # moment selection reads full matrices, row 0 the base model
        means = np.vstack([np.full((1, means.shape[1]), np.nan), means])
        stack = np.concatenate([np.full((n_boot, 1, means.shape[1]), np.nan), stack], axis=1)
    out: dict[str, Interval] = {}
    for name in metric_keys():
        m = point[name]
        if m.value is None:
            out[name] = Interval(None, None, m.reason)
        else:
            selected = None
            if chosen[name] == MOMENT_SELECTION:
                selected = _selected_replicates(name, means, stack)
            ci = interval_of(
                chosen[name], replicates[name], m.value, level, jackknife.get(name, ()), selected
            )
            out[name] = Interval(m.value, ci, method=chosen[name])
    return out


def _selected_replicates(name: str, means: np.ndarray, stack: np.ndarray) -> np.ndarray:
    """Metric ``name`` at the tie-selected point plus each replicate's deviations from it."""
    d = definition(name)
    if d.maxed is None:
        raise ValueError(
            f"{name} takes no maximum over steps: its interval cannot use moment selection"
        )
    T = means.shape[1]
    selected = tie_selected_point(means, stack, d.maxed(T))
    return d.compute(Parts(selected[None] + (stack - means[None]), T))  # this metric only


# --------------------------------------------------------------------------- comparisons


def _check_metric(metric: str) -> None:
    if metric not in metric_keys():
        raise ValueError(f"unknown metric {metric!r}; expected one of {', '.join(metric_keys())}")


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
    return PairedResult(
        a_point.value - b_point.value, percentile_interval(d, level), float(p_value)
    )


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
    (``higher_is_better`` defaults to the metric's definition; ties by name). The best
    opens group 1 as its leader; each following entry that :func:`paired_test` cannot
    separate from the current group's leader (p >= ``alpha``) joins that group; the first
    that it can separate opens the next group and leads it; and so on. An entry whose
    metric is undefined gets None. The result lists the entries best first, undefined last.
    """
    _check_metric(metric)
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
    higher = definition(metric).higher_is_better if higher_is_better is None else higher_is_better
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
