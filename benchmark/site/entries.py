"""Loading the leaderboard's entries (``submission.yaml`` + ``results.json``) and rank groups."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from benchmark.entry.reported import Reported
from benchmark.entry.results import MetricResult, Results, definitions_mismatch, load_results
from benchmark.entry.submission import (
    RESULTS_FILE,
    SUBMISSION_FILE,
    Submission,
    load_submission,
)
from benchmark.errors import BenchmarkError
from benchmark.metrics.reported import ReportedMetric, reported_metrics, unknown_metrics

LEADERBOARD_SCHEMA = "mllmcl-bench/leaderboard/1"
SITE_MARKER = ".mllmcl-bench-site"  # marks an output folder as ours, so a rebuild may replace it
RANK_METRIC = "last"
RANK_RULE = (
    "Entries are ordered by last. The best entry not yet ranked leads a new rank group; every "
    "entry not yet ranked whose 95% interval of last overlaps the group leader's interval "
    "shares its rank group. Entries without a value of last are not ranked."
)
MINUS = "\u2212"
DASH = "\u2014"


class SiteError(BenchmarkError):
    """An entry cannot be shown (invalid file, inconsistent entry) or the output is unsafe."""


# --------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class SubmittedEntry:
    """What every entry has, measured or reported: its folder and its ``submission.yaml``."""

    path: Path
    submission: Submission

    @property
    def name(self) -> str:
        return self.submission.name

    @property
    def suite(self) -> str:
        return self.submission.suite


@dataclass(frozen=True)
class Entry(SubmittedEntry):
    """One leaderboard entry: its folder and the two files the site reads."""

    results: Results

    @property
    def verified(self) -> bool:
        """Shown as verified only when both the submission and the harness say so."""
        return self.submission.verified and self.results.verified

    @property
    def columns(self) -> list[str]:
        return [*self.results.tasks, *self.results.probes]

    def metric(self, key: str) -> MetricResult | None:
        return self.results.metrics.get(key)

    @property
    def parameters(self) -> tuple[int | None, str | None]:
        """The base model's parameter count and where it comes from: counted by the harness
        (results.json provenance), else declared in submission.yaml, else unknown."""
        return parameters_of(self.submission, self.results.provenance.base_parameters)


@dataclass(frozen=True)
class ReportedEntry(SubmittedEntry):
    """A paper's table without checkpoints or predictions (``reported_only: true``): shown
    flagged 'reported' under a suite's ranked table, never ranked."""

    @property
    def reported(self) -> Reported:
        assert self.submission.reported is not None  # the schema requires it
        return self.submission.reported

    @property
    def metrics(self) -> dict[str, ReportedMetric]:
        return published(self.reported)

    @property
    def parameters(self) -> tuple[int | None, str | None]:
        return parameters_of(self.submission, None)


def parameters_of(submission: Submission, counted: int | None) -> tuple[int | None, str | None]:
    if counted is not None:
        return counted, "counted"
    if submission.base_model.parameters is not None:
        return submission.base_model.parameters, "declared"
    return None, None


def published(reported: Reported) -> dict[str, ReportedMetric]:
    """Every metric of a paper's numbers: stated, derived from its matrix, or why not."""
    return reported_metrics(
        reported.full_matrix(), base_row=reported.base_row, stated=reported.metrics
    )


def _check_place(entry_dir: Path, submission: Submission) -> None:
    sub_file = entry_dir / SUBMISSION_FILE
    unknown = unknown_metrics(
        list((submission.reported.metrics or {}) if submission.reported else {})
    )
    if unknown:
        raise SiteError(f"{sub_file}: field reported.metrics: unknown metric {unknown[0]!r}")
    if submission.name != entry_dir.name:
        raise SiteError(
            f"{sub_file}: name {submission.name!r} must equal the folder name {entry_dir.name!r}"
        )
    if submission.suite != entry_dir.parent.name:
        raise SiteError(
            f"{sub_file}: suite {submission.suite!r}, but the entry is under "
            f"{entry_dir.parent.name}/"
        )


def load_entry(entry_dir: Path) -> Entry | ReportedEntry:
    """Read and cross-check one entry folder; a :class:`SiteError` names the bad file."""
    entry_dir = Path(entry_dir)
    try:
        submission = load_submission(entry_dir)
    except BenchmarkError as exc:
        raise SiteError(str(exc)) from None
    if submission.reported_only:
        _check_place(entry_dir, submission)
        if (entry_dir / RESULTS_FILE).exists():
            raise SiteError(
                f"{entry_dir / RESULTS_FILE}: a reported_only entry holds the paper's numbers "
                "only; remove results.json (or reported_only)"
            )
        return ReportedEntry(entry_dir, submission)
    try:
        results = load_results(entry_dir / RESULTS_FILE)
    except BenchmarkError as exc:
        raise SiteError(str(exc)) from None
    _check_place(entry_dir, submission)
    res_file = entry_dir / RESULTS_FILE
    ours = (submission.suite, submission.suite_version, submission.order)
    theirs = (results.suite, results.suite_version, results.order)
    if ours != theirs:
        raise SiteError(
            f"{res_file}: is for suite {theirs[0]!r} version {theirs[1]} order "
            f"{theirs[2]!r}, but submission.yaml says {ours[0]!r} version {ours[1]} "
            f"order {ours[2]!r}"
        )
    stale = definitions_mismatch(results.metric_definitions, entry_dir)
    if stale is not None:
        raise SiteError(f"{res_file}: {stale}")
    columns = [*results.tasks, *results.probes]
    if len(set(columns)) != len(columns):
        raise SiteError(f"{res_file}: field tasks/probes: a task name appears twice")
    reported = submission.reported
    if reported is not None and reported.tasks is not None and reported.tasks != results.tasks:
        raise SiteError(
            f"{entry_dir / SUBMISSION_FILE}: field reported.tasks: {reported.tasks} differ from "
            f"the measured tasks {results.tasks} of results.json"
        )
    return Entry(entry_dir, submission, results)


def load_entries(submissions_dir: Path) -> tuple[list[Entry | ReportedEntry], list[str]]:
    """Every entry under ``submissions/<suite>/<entry>/``, and every suite folder's name."""
    root = Path(submissions_dir)
    if not root.is_dir():
        raise SiteError(f"{root}: submissions folder not found")
    entries: list[Entry | ReportedEntry] = []
    suites: list[str] = []
    for suite_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        suites.append(suite_dir.name)
        for entry_dir in sorted(p for p in suite_dir.iterdir() if p.is_dir()):
            entries.append(load_entry(entry_dir))
    return entries, suites


# --------------------------------------------------------------------------- rank groups


def rank_groups_by_interval(
    metrics: Mapping[str, MetricResult | None], *, higher_is_better: bool = True
) -> dict[str, int | None]:
    """Rank groups (1, 2, …) from each entry's value and 95% interval of one metric.

    The best entry not yet ranked leads a new group; every entry not yet ranked whose
    interval overlaps the leader's (ends included) joins that group. Conservative: an
    overlap of 95% intervals does not show a difference. Entries with no value get None;
    an entry without an interval counts as the point interval [value, value]. A paired test
    on per-item scores (``benchmark.metrics.rank_groups``) can replace this function once
    results carry what it needs.
    """
    scored: dict[str, tuple[float, float, float]] = {}
    for name, metric in metrics.items():
        if metric is None or metric.value is None:
            continue
        low, high = metric.ci95 if metric.ci95 is not None else (metric.value, metric.value)
        scored[name] = (metric.value, min(low, high, metric.value), max(low, high, metric.value))
    sign = -1.0 if higher_is_better else 1.0
    ranked = sorted(scored, key=lambda name: (sign * scored[name][0], name))
    groups: dict[str, int | None] = dict.fromkeys(metrics)
    group = 0
    while ranked:
        group += 1
        _, low, high = scored[ranked[0]]
        for name in ranked:
            _, a, b = scored[name]
            if a <= high and low <= b:
                groups[name] = group
        ranked = [name for name in ranked if groups[name] is None]
    return groups
