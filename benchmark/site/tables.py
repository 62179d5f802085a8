"""A suite's section of the leaderboard and its table (the CSV download)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pandas as pd

from benchmark import __version__
from benchmark.entry.submission import RESULTS_FILE
from benchmark.metrics.definitions import METRIC_DEFINITIONS_VERSION, definition, metric_table
from benchmark.site.entries import (
    LEADERBOARD_SCHEMA,
    RANK_METRIC,
    RANK_RULE,
    Entry,
    ReportedEntry,
    SiteError,
    rank_groups_by_interval,
)
from benchmark.site.format import slug
from benchmark.site.paper import paper_row, paper_rows

# --------------------------------------------------------------------------- columns


@dataclass(frozen=True)
class Column:
    """One column of a suite's leaderboard table; ``kind`` picks how index.html fills it."""

    key: str
    header: str
    kind: str  # rank | method | base | params | metric | joint | paper | flags
    sort: str  # how the browser sorts it: num | text
    default: str  # first sort direction: asc | desc
    title: str = ""
    reads: str = ""  # a second header line: how to read the number
    numeric: bool = False  # a number: right-aligned
    data_key: bool = False  # carries data-key (the filter and sort scripts address it)


def board_columns(has_joint: bool, has_paper: bool = False) -> list[Column]:
    """The table's columns, declared once: the page's header and cells follow this list.

    The metric columns are the leaderboard rows of the metric table
    (:mod:`benchmark.metrics.definitions`): a new metric with ``leaderboard=True`` is a new
    column without an edit here.
    """
    columns = [
        Column(
            "rank", "Rank", "rank", "num", "asc", f"Rank group by last: {RANK_RULE}", numeric=True
        ),
        Column("method", "Method", "method", "text", "asc"),
        Column("base_model", "Base model", "base", "text", "asc"),
        Column(
            "parameters",
            "Params",
            "params",
            "num",
            "desc",
            "parameters of the base model",
            numeric=True,
        ),
    ]
    columns += [
        Column(
            d.key,
            d.label,
            "metric",
            "num",
            "desc" if d.higher_is_better else "asc",
            f"{d.formula} ({d.reads})",
            d.reads.split(";")[0],
            numeric=True,
            data_key=True,
        )
        for d in metric_table()
        if d.leaderboard
    ]
    if has_joint:
        columns.append(
            Column(
                "last_vs_joint",
                "last vs joint",
                "joint",
                "num",
                "desc",
                "last as a percentage of the best joint (multi-task) entry's last on the same "
                "base model",
                "% of multi-task",
                numeric=True,
                data_key=True,
            )
        )
    if has_paper:
        columns.append(
            Column(
                "paper",
                "\u0394 vs paper",
                "paper",
                "num",
                "asc",
                "measured last minus the last its paper reports for this protocol (reported:"
                " in submission.yaml); the mark says whether the paper's value is inside our "
                "95% interval. Data only: never used for ranking",
                "measured \u2212 reported",
                numeric=True,
                data_key=True,
            )
        )
    columns.append(
        Column(
            "flags",
            "Flags",
            "flags",
            "num",
            "asc",
            "sorts by the number of caveats (replay, task id, extra data, self-reported)",
        )
    )
    return columns


# --------------------------------------------------------------------------- sections


@dataclass
class Section:
    """One suite at one suite version: a table, its task pages and its CSV."""

    suite: str
    version: int | None
    entries: list[Entry] = field(default_factory=list)
    ranks: dict[str, int | None] = field(default_factory=dict)
    joint: dict[str, tuple[float, Entry] | None] = field(default_factory=dict)
    reported: list[ReportedEntry] = field(default_factory=list)

    @property
    def key(self) -> str:
        return slug(self.suite) + ("" if self.version is None else f"-v{self.version}")

    @property
    def csv_name(self) -> str:
        return f"{self.key}.csv"

    @property
    def title(self) -> str:
        return self.suite if self.version is None else f"{self.suite} v{self.version}"

    def entry_page(self, entry: Entry) -> str:
        return f"{self.key}/{entry.name}.html"

    def task_page(self, task: str) -> str:
        return f"{self.key}/tasks/{slug(task)}.html"

    @property
    def tasks(self) -> list[str]:
        """Trained tasks (first entry's order, then any others), then probes."""
        trained: list[str] = []
        probes: list[str] = []
        for entry in self.entries:
            trained += [t for t in entry.results.tasks if t not in trained]
            probes += [p for p in entry.results.probes if p not in probes]
        return trained + [p for p in probes if p not in trained]

    def is_probe(self, task: str) -> bool:
        return any(task in e.results.probes for e in self.entries)

    @property
    def orders(self) -> list[str]:
        return sorted({e.submission.order for e in self.entries})

    @property
    def has_paper(self) -> bool:
        """Some ranked entry carries its paper's numbers (the "Δ vs paper" column)."""
        return any(e.submission.reported is not None for e in self.entries)

    @property
    def bases(self) -> list[tuple[str, str]]:
        """The base models of the section's entries (ranked and reported): (filter value,
        label), id and revision, sorted."""
        found = {base_key(e): base_label(e) for e in [*self.entries, *self.reported]}
        return sorted(found.items())

    @property
    def compare_page(self) -> str:
        """The section's one compare page; site.js draws the pair its query names."""
        return f"{self.key}/compare.html"

    def compare_link(self, a: Entry, b: Entry) -> str:
        """The compare page showing ``b`` − ``a``."""
        return f"{self.compare_page}?{urlencode({'a': a.name, 'b': b.name})}"

    def reported_page(self, entry: ReportedEntry) -> str:
        return f"{self.key}/reported/{entry.name}.html"

    @property
    def has_joint(self) -> bool:
        return any(v is not None for v in self.joint.values())

    def rel_joint(self, entry: Entry) -> float | None:
        ref = self.joint.get(entry.name)
        last = entry.metric("last")
        if ref is None or last is None or last.value is None or ref[0] <= 0:
            return None
        return 100.0 * last.value / ref[0]


def _base_key(entry: Entry) -> tuple[str, str | None]:
    return (entry.submission.base_model.id, entry.submission.base_model.revision)


def base_key(entry: Entry | ReportedEntry) -> str:
    """The base-model filter's value: ``id@revision`` (results on different bases or
    revisions are not comparable), ``id`` when no revision is given."""
    base = entry.submission.base_model
    return base.id if base.revision is None else f"{base.id}@{base.revision}"


def base_label(entry: Entry | ReportedEntry) -> str:
    base = entry.submission.base_model
    return base.id if base.revision is None else f"{base.id} @ {base.revision[:7]}"


def joint_references(entries: Sequence[Entry]) -> dict[str, tuple[float, Entry] | None]:
    """Per entry, the best ``joint`` (multi-task) entry on the same base model (id, revision)."""
    best: dict[tuple[str, str | None], tuple[float, Entry]] = {}
    for entry in entries:
        last = entry.metric("last")
        if entry.submission.method_family != "joint" or last is None or last.value is None:
            continue
        key = _base_key(entry)
        if key not in best or last.value > best[key][0]:
            best[key] = (last.value, entry)
    return {e.name: best.get(_base_key(e)) for e in entries}


def _check_page_names(section: Section) -> None:
    """Every task of a section gets a page of its own."""
    owner: dict[str, str] = {}
    for task in section.tasks:
        page = slug(task)
        other = owner.setdefault(page, task)
        if other != task:
            first = next(e for e in section.entries if other in e.columns)
            second = next(e for e in section.entries if task in e.columns)
            raise SiteError(
                f"{second.path / RESULTS_FILE}: task {task!r} and task {other!r} of "
                f"{first.path / RESULTS_FILE} would share the page {page}.html; rename one"
            )


def sections(entries: Sequence[Entry | ReportedEntry], suite_dirs: Sequence[str]) -> list[Section]:
    by_key: dict[tuple[str, int], Section] = {}
    for entry in entries:
        key = (entry.suite, entry.submission.suite_version)
        section = by_key.setdefault(key, Section(entry.suite, key[1]))
        if isinstance(entry, ReportedEntry):
            section.reported.append(entry)
        else:
            section.entries.append(entry)
    out: list[Section] = []
    for (_, _), section in sorted(by_key.items(), key=lambda kv: (kv[0][0], -kv[0][1])):
        section.ranks = rank_groups_by_interval(
            {e.name: e.metric(RANK_METRIC) for e in section.entries},
            higher_is_better=definition(RANK_METRIC).higher_is_better,
        )
        section.joint = joint_references(section.entries)
        _check_page_names(section)

        def order(e: Entry, s: Section = section) -> tuple[float, float, str]:
            rank = s.ranks[e.name]
            last = e.metric(RANK_METRIC)
            value = last.value if last is not None and last.value is not None else -math.inf
            return (math.inf if rank is None else rank, -value, e.name)

        section.entries.sort(key=order)
        section.reported.sort(key=lambda e: e.name)
        out.append(section)
    have = {s.suite for s in out}
    out += [Section(name, None) for name in suite_dirs if name not in have]
    return sorted(out, key=lambda s: (s.suite, -(s.version or 0)))


# --------------------------------------------------------------------------- tables


def _csv_text(value: Any) -> Any:
    """Neutralise spreadsheet formulas in free text (a cell starting with = + - @ …)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def section_table(section: Section) -> pd.DataFrame:
    """The suite's table, one row per entry in rank order (the CSV download)."""
    rows = []
    for entry in section.entries:
        sub = entry.submission
        ref = section.joint.get(entry.name)
        row: dict[str, Any] = {
            "rank_group": section.ranks.get(entry.name),
            "name": sub.name,
            "method": sub.method,
            "method_family": sub.method_family,
            "base_model": sub.base_model.id,
            "base_model_revision": sub.base_model.revision,
            "parameters": entry.parameters[0],
            "parameters_from": entry.parameters[1],
            "suite": sub.suite,
            "suite_version": sub.suite_version,
            "order": sub.order,
            "steps": len(entry.results.tasks),
        }
        for info in metric_table():
            metric = entry.metric(info.key)
            ci = metric.ci95 if metric is not None else None
            row[info.key] = metric.value if metric is not None else None
            row[f"{info.key}_ci_low"] = ci[0] if ci else None
            row[f"{info.key}_ci_high"] = ci[1] if ci else None
        row["last_pct_of_joint"] = section.rel_joint(entry)
        paper = paper_row(entry)
        row["reported_last"] = paper.reported.value if paper else None
        row["last_minus_reported"] = paper.delta if paper else None
        row["reported_last_inside_ci95"] = paper.inside if paper else None
        row["reported_source"] = sub.reported.source.url if sub.reported else None
        row["joint_reference"] = ref[1].name if ref else None
        row.update(
            {
                "uses_replay": sub.uses_replay,
                "replay_buffer": sub.replay_buffer,
                "task_id_at_inference": sub.task_id_at_inference,
                "extra_data": sub.extra_data,
                "verified": entry.verified,
                "date": sub.date.isoformat(),
                "paper": sub.paper,
                "code": sub.code,
                "license": sub.license,
            }
        )
        rows.append({k: _csv_text(v) for k, v in row.items()})
    frame = pd.DataFrame(rows)
    for column in ("rank_group", "parameters", "replay_buffer"):
        if column in frame:
            frame[column] = frame[column].astype("Int64")
    return frame


def leaderboard_json(all_sections: Sequence[Section]) -> dict[str, Any]:
    entries = []
    for section in all_sections:
        for entry in section.entries:
            ref = section.joint.get(entry.name)
            entries.append(
                {
                    "suite": entry.suite,
                    "suite_version": entry.submission.suite_version,
                    "name": entry.name,
                    "page": section.entry_page(entry),
                    "rank_group": section.ranks.get(entry.name),
                    "verified": entry.verified,
                    "kind": "measured",
                    "last_pct_of_joint": section.rel_joint(entry),
                    "joint_reference": ref[1].name if ref else None,
                    "parameters": entry.parameters[0],
                    "parameters_from": entry.parameters[1],
                    "vs_paper": [
                        {
                            "metric": row.key,
                            "reported": row.reported.value,
                            "reported_from": row.reported.origin or None,
                            "measured": row.measured_value,
                            "difference": row.delta,
                            "inside_ci95": row.inside,
                        }
                        for row in paper_rows(entry)
                    ],
                    "submission": entry.submission.model_dump(mode="json"),
                    "results": entry.results.model_dump(mode="json", by_alias=True),
                }
            )
        for reported in section.reported:
            entries.append(
                {
                    "suite": reported.suite,
                    "suite_version": reported.submission.suite_version,
                    "name": reported.name,
                    "page": section.reported_page(reported),
                    "rank_group": None,
                    "verified": False,
                    "kind": "reported",
                    "reported_metrics": {
                        key: {"value": m.value, "from": m.origin or None, "reason": m.reason}
                        for key, m in reported.metrics.items()
                    },
                    "submission": reported.submission.model_dump(mode="json"),
                }
            )
    return {
        "schema": LEADERBOARD_SCHEMA,
        "harness": __version__,
        "metric_definitions": METRIC_DEFINITIONS_VERSION,
        "rank_metric": RANK_METRIC,
        "rank_rule": RANK_RULE,
        "suites": [
            {
                "suite": s.suite,
                "suite_version": s.version,
                "entries": len(s.entries),
                "reported_only": len(s.reported),
                "csv": s.csv_name if s.entries else None,
            }
            for s in all_sections
        ],
        "entries": entries,
    }
