"""A paper's published numbers → every metric of the metric table, or why it is missing.

A paper gives its accuracy matrix (often lower-triangular: accuracy on the tasks seen so
far), its metrics, or both. :func:`reported_metrics` takes the metrics it states as they are
and derives the others from its matrix with the same code as results.json; a metric that
reads a missing cell is not computable, with the reason (``fwt`` reads the cells above the
diagonal, which a lower-triangular table lacks).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from benchmark.metrics.definitions import cl_metrics_explained, definition, metric_keys


@dataclass(frozen=True)
class ReportedMetric:
    """One metric as the paper has it: stated, derived from its matrix, or not computable."""

    key: str
    value: float | None
    origin: str  # "paper" (stated), "matrix" (derived from its matrix), "" (missing)
    reason: str | None = None  # why it is missing


def unknown_metrics(keys: Sequence[str]) -> list[str]:
    """The keys that name no metric of the metric table."""
    known = metric_keys()
    return [key for key in keys if key not in known]


def reported_metrics(
    matrix: Sequence[Sequence[float | None]] | None,
    *,
    base_row: bool,
    stated: Mapping[str, float] | None = None,
) -> dict[str, ReportedMetric]:
    """Every metric of the metric table from a paper's numbers.

    ``matrix`` is (T+1) x T with row 0 the base model (all None when the paper gives none:
    ``base_row`` False), None where the paper gives no number; ``stated`` the metrics the
    paper states. A stated value wins over one derived from the matrix.
    """
    stated = stated or {}
    derived: dict[str, tuple[float | None, str | None]] = {}
    if matrix is not None:
        nan = [[math.nan if v is None else float(v) for v in row] for row in matrix]
        for key, metric in cl_metrics_explained(nan, base_row=True).items():
            reason = metric.reason
            if reason is not None and not base_row and definition(key).needs_base_row:
                reason = "needs the base model's row, which the paper's table does not give"
            derived[key] = (metric.value, reason)
    out: dict[str, ReportedMetric] = {}
    for key in metric_keys():
        if key in stated:
            out[key] = ReportedMetric(key, stated[key], "paper")
        elif key in derived and derived[key][0] is not None:
            out[key] = ReportedMetric(key, derived[key][0], "matrix")
        elif key in derived:
            out[key] = ReportedMetric(key, None, "", f"not computable: {derived[key][1]}")
        else:
            out[key] = ReportedMetric(key, None, "", "not given (the paper gives no matrix)")
    return out
