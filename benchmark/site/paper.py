"""Reported (a paper's numbers) next to measured (results.json): differences and intervals.

The paper's numbers are never used for ranking; these rows only say how far the measured
value is from the published one (measured − reported) and whether the published value lies
inside the measured entry's 95% interval.
"""

from __future__ import annotations

from dataclasses import dataclass

from benchmark.entry.results import MetricResult
from benchmark.metrics.definitions import metric_keys
from benchmark.metrics.reported import ReportedMetric
from benchmark.site.entries import Entry, published

PAPER_METRIC = "last"  # the index's "Δ vs paper" column


@dataclass(frozen=True)
class PaperRow:
    """One metric: the paper's value, ours, the difference and whether the paper's value is
    inside our 95% interval (None when either is missing or we have no interval)."""

    key: str
    reported: ReportedMetric
    measured: MetricResult | None

    @property
    def measured_value(self) -> float | None:
        return None if self.measured is None else self.measured.value

    @property
    def delta(self) -> float | None:
        """measured − reported, in points."""
        if self.reported.value is None or self.measured_value is None:
            return None
        return self.measured_value - self.reported.value

    @property
    def inside(self) -> bool | None:
        if self.reported.value is None or self.measured is None or self.measured.ci95 is None:
            return None
        low, high = sorted(self.measured.ci95)
        return low <= self.reported.value <= high

    @property
    def verdict(self) -> str:
        """What the page says about the interval: inside, outside, or why it cannot say."""
        if self.inside is None:
            if self.reported.value is None:
                return "no reported value"
            return "no measured value" if self.measured_value is None else "no interval"
        return "inside our 95% interval" if self.inside else "outside our 95% interval"


def paper_rows(entry: Entry) -> list[PaperRow]:
    """Every metric of the metric table, for an entry whose submission carries reported:."""
    reported = entry.submission.reported
    if reported is None:
        return []
    stated = published(reported)
    return [PaperRow(key, stated[key], entry.metric(key)) for key in metric_keys()]


def paper_row(entry: Entry, key: str = PAPER_METRIC) -> PaperRow | None:
    """The row of one metric (the index column's), or None without reported:."""
    return next((row for row in paper_rows(entry) if row.key == key), None)


def matrix_difference(entry: Entry) -> list[list[float | None]] | None:
    """measured − reported per cell of the trained tasks (None where either is missing)."""
    reported = entry.submission.reported
    full = reported.full_matrix() if reported is not None else None
    if full is None:
        return None
    T = len(entry.results.tasks)
    out: list[list[float | None]] = []
    for ours, theirs in zip(entry.results.matrix, full, strict=True):
        out.append(
            [
                None if a is None or b is None else a - b
                for a, b in zip(ours[:T], theirs, strict=True)
            ]
        )
    return out
