"""The leaderboard: ``submissions/`` → tables (pandas) → static pages (Jinja2).

``site_build(submissions_dir, out_dir)`` reads, for every entry folder
``submissions/<suite>/<entry>/``, exactly two files: ``submission.yaml`` and ``results.json``
(validated by :mod:`benchmark.submission`). It never imports models, backends, the evaluator
or the suite registry, and never runs anything from an entry.

The output is plain static HTML (Jinja2, autoescape on) with one CSS and one vanilla JS file,
relative links only and no external requests, so it works from ``file://`` and any static
host::

    index.html                      one table per suite (and suite version)
    <suite>-v<N>/<entry>.html       an entry: heatmap, curves, probes, provenance
    <suite>-v<N>/tasks/<task>.html  every entry's accuracy on one task, step by step
    <suite>-v<N>.csv                the suite's table (pandas)
    leaderboard.json                every entry: submission, results, rank group
    static/site.css, static/site.js

Rank groups (:func:`rank_groups_by_interval`): entries are ordered by ``last``; the best
unranked entry leads a new group, and every unranked entry whose 95% interval overlaps the
leader's interval joins it. results.json holds no per-item scores, so this is the
conservative stand-in for the paired test of DESIGN.md; it lives in one function so that a
paired test can replace it.

A bad entry fails the whole build with one message naming the file (:class:`SiteError`),
before anything is written; the previous site stays in place.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from benchmark import __version__
from benchmark.errors import BenchmarkError
from benchmark.submission import (
    HF_URI,
    METHOD_FAMILIES,
    RESULTS_FILE,
    SUBMISSION_FILE,
    MetricResult,
    Results,
    Submission,
    load_results,
    load_submission,
)

LEADERBOARD_SCHEMA = "mllmcl-bench/leaderboard/1"
METRIC_DEFINITIONS = 1  # the version of the definitions this site explains (DESIGN.md)
SITE_MARKER = ".mllmcl-bench-site"  # marks an output folder as ours, so a rebuild may replace it
RANK_METRIC = "last"
TABLE_METRICS = ("last", "avg", "bwt", "forgetting", "fwt")
RANK_RULE = (
    "Entries are ordered by last. The best entry not yet ranked leads a new rank group; every "
    "entry not yet ranked whose 95% interval of last overlaps the group leader's interval "
    "shares its rank group. Entries without a value of last are not ranked."
)
MINUS = "\u2212"
DASH = "\u2014"


class SiteError(BenchmarkError):
    """An entry cannot be shown (invalid file, inconsistent entry) or the output is unsafe."""


@dataclass(frozen=True)
class MetricInfo:
    key: str
    label: str
    formula: str
    meaning: str
    reads: str
    higher_is_better: bool
    signed: bool  # a difference: shown with its sign


METRICS: tuple[MetricInfo, ...] = (
    MetricInfo(
        "last",
        "last",
        "mean_j R[T][j]",
        "Accuracy on all tasks after the final step (also called ACC or MFN).",
        "higher is better",
        True,
        False,
    ),
    MetricInfo(
        "avg",
        "avg",
        "mean over i=1..T of mean_{j≤i} R[i][j]",
        "Average accuracy on the tasks seen so far, over all steps (MAA).",
        "higher is better",
        True,
        False,
    ),
    MetricInfo(
        "mft",
        "mft",
        "mean_j R[j][j]",
        "Accuracy on each task right after learning it (plasticity).",
        "higher is better",
        True,
        False,
    ),
    MetricInfo(
        "bwt",
        "bwt",
        "mean_{j<T} (R[T][j] − R[j][j])",
        "Backward transfer (GEM): how accuracy on earlier tasks changed by the end.",
        "negative = forgetting",
        True,
        True,
    ),
    MetricInfo(
        "forgetting",
        "forgetting",
        "mean_{j<T} (max_{j≤l<T} R[l][j] − R[T][j])",
        "Forgetting (Chaudhry): drop from each task's best accuracy to its final one.",
        "positive = forgetting; can be negative",
        False,
        True,
    ),
    MetricInfo(
        "fwt",
        "fwt",
        "mean_{j≥2} (R[j−1][j] − R[0][j])",
        "Forward transfer (GEM), with the base model as the reference: accuracy on a "
        "task just before learning it, relative to the base model.",
        "positive = transfer",
        True,
        True,
    ),
    MetricInfo(
        "zero_shot_gain",
        "zero-shot gain",
        "mean_j (R[T][j] − R[0][j])",
        "Final accuracy relative to the base model, per task.",
        "positive = better than the base model",
        True,
        True,
    ),
)
METRIC_BY_KEY = {m.key: m for m in METRICS}

# A qualitative palette (chosen for this site) and a sequential scale for the heatmap.
PALETTE = (
    "#2b6cb0",
    "#d1495b",
    "#e0a030",
    "#2a9d8f",
    "#7b4fa0",
    "#5c6b2e",
    "#e07a5f",
    "#3d405b",
    "#8c564b",
    "#17becf",
)
DASHES = ("", "6 3", "2 3", "8 3 2 3")
HEAT_STOPS = ((0.0, (247, 244, 235)), (0.5, (132, 186, 196)), (1.0, (24, 66, 104)))
SAFE_SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]{0,60}$")
HTTPS_URL = re.compile(r"^https://[^\s<>\"'`\\]+$")


# --------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class Entry:
    """One leaderboard entry: its folder and the two files the site reads."""

    path: Path
    submission: Submission
    results: Results

    @property
    def name(self) -> str:
        return self.submission.name

    @property
    def suite(self) -> str:
        return self.submission.suite

    @property
    def verified(self) -> bool:
        """Shown as verified only when both the submission and the harness say so."""
        return self.submission.verified and self.results.verified

    @property
    def columns(self) -> list[str]:
        return [*self.results.tasks, *self.results.probes]

    def metric(self, key: str) -> MetricResult | None:
        return self.results.metrics.get(key)


def load_entry(entry_dir: Path) -> Entry:
    """Read and cross-check one entry folder; a :class:`SiteError` names the bad file."""
    entry_dir = Path(entry_dir)
    try:
        submission = load_submission(entry_dir)
        results = load_results(entry_dir / RESULTS_FILE)
    except BenchmarkError as exc:
        raise SiteError(str(exc)) from None
    sub_file, res_file = entry_dir / SUBMISSION_FILE, entry_dir / RESULTS_FILE
    if submission.name != entry_dir.name:
        raise SiteError(
            f"{sub_file}: name {submission.name!r} must equal the folder name {entry_dir.name!r}"
        )
    if submission.suite != entry_dir.parent.name:
        raise SiteError(
            f"{sub_file}: suite {submission.suite!r}, but the entry is under "
            f"{entry_dir.parent.name}/"
        )
    ours = (submission.suite, submission.suite_version, submission.order)
    theirs = (results.suite, results.suite_version, results.order)
    if ours != theirs:
        raise SiteError(
            f"{res_file}: is for suite {theirs[0]!r} version {theirs[1]} order "
            f"{theirs[2]!r}, but submission.yaml says {ours[0]!r} version {ours[1]} "
            f"order {ours[2]!r}"
        )
    if results.metric_definitions != METRIC_DEFINITIONS:
        raise SiteError(
            f"{res_file}: metric_definitions {results.metric_definitions}, but the "
            f"site explains version {METRIC_DEFINITIONS} (update benchmark/site.py)"
        )
    columns = [*results.tasks, *results.probes]
    if len(set(columns)) != len(columns):
        raise SiteError(f"{res_file}: field tasks/probes: a task name appears twice")
    return Entry(entry_dir, submission, results)


def load_entries(submissions_dir: Path) -> tuple[list[Entry], list[str]]:
    """Every entry under ``submissions/<suite>/<entry>/``, and every suite folder's name."""
    root = Path(submissions_dir)
    if not root.is_dir():
        raise SiteError(f"{root}: submissions folder not found")
    entries: list[Entry] = []
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


# --------------------------------------------------------------------------- formatting


def slug(name: str) -> str:
    """A file-name-safe form of a suite or task name (task names come from results.json)."""
    if SAFE_SLUG.match(name):
        return name
    cleaned = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-._")[:40] or "x"
    return f"{cleaned}-{hashlib.sha256(name.encode('utf-8')).hexdigest()[:8]}"


def fmt_number(value: float | None, *, signed: bool = False, digits: int = 1) -> str:
    if value is None or not math.isfinite(value):
        return DASH
    text = f"{abs(value):.{digits}f}"
    if float(text) == 0:
        return text
    if value < 0:
        return MINUS + text
    return ("+" if signed else "") + text


def fmt_parameters(count: int | None) -> str:
    if count is None:
        return DASH
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if count >= scale:
            number = count / scale
            text = f"{number:.0f}" if number >= 100 else f"{number:.1f}".removesuffix(".0")
            return text + suffix
    return str(count)


def fmt_seconds(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def https_url(url: str | None) -> str | None:
    """Only https:// links leave the site (the schema allows no others; checked again here)."""
    return url if url is not None and HTTPS_URL.match(url) else None


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def ordered_metrics(metrics: Mapping[str, MetricResult]) -> list[tuple[str, MetricResult]]:
    """The metrics of a results.json in the order of :data:`METRICS`, unknown ones last."""
    known = [m.key for m in METRICS]
    return sorted(
        metrics.items(),
        key=lambda kv: (known.index(kv[0]) if kv[0] in known else len(known), kv[0]),
    )


@dataclass(frozen=True)
class MetricCell:
    """A metric as a table cell: sortable data value, text, interval or the reason it is null."""

    key: str
    data: str  # "" when null: sorts last
    text: str
    interval: str
    reason: str | None
    title: str

    @staticmethod
    def of(key: str, metric: MetricResult | None) -> MetricCell:
        info = METRIC_BY_KEY.get(key)
        signed = info.signed if info else False
        if metric is None or metric.value is None:
            reason = (metric.reason if metric is not None else None) or "not given"
            return MetricCell(key, "", DASH, "", reason, f"{key}: {reason}")
        interval = ""
        if metric.ci95 is not None:
            low, high = metric.ci95
            interval = f"{fmt_number(low, signed=signed)} – {fmt_number(high, signed=signed)}"
        value = fmt_number(metric.value, signed=signed)
        title = f"{key} = {value}" + (f", 95% interval {interval}" if interval else "")
        return MetricCell(key, repr(float(metric.value)), value, interval, None, title)


# --------------------------------------------------------------------------- charts


def heat_colour(value: float) -> tuple[str, str]:
    """Fill and text colour of a heatmap cell for an accuracy in 0..100."""
    t = min(max(value / 100.0, 0.0), 1.0)
    rgb = HEAT_STOPS[-1][1]
    for (t0, c0), (t1, c1) in itertools.pairwise(HEAT_STOPS):
        if t <= t1:
            f = 0.0 if t1 == t0 else (t - t0) / (t1 - t0)
            rgb = tuple(round(a + (b - a) * f) for a, b in zip(c0, c1, strict=True))
            break
    luminance = (0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]) / 255
    return "#{:02x}{:02x}{:02x}".format(*rgb), ("#ffffff" if luminance < 0.5 else "#1a202c")


@dataclass(frozen=True)
class HeatCell:
    x: float
    y: float
    step: int
    task: str
    text: str
    title: str
    fill: str
    ink: str
    trained: bool
    probe: bool
    null: bool


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str
    title: str
    kind: str = ""


@dataclass(frozen=True)
class Heatmap:
    width: float
    height: float
    cell_w: float
    cell_h: float
    cells: list[HeatCell]
    columns: list[Label]
    rows: list[Label]
    separator: float | None  # x of the line between tasks and probes


def cell_reason(entry: Entry, step: int, task: str) -> str:
    cell = next((c for c in entry.results.cells if c.step == step and c.task == task), None)
    if cell is None:
        return "not evaluated"
    if cell.n == 0:
        return "no items"
    return f"no accuracy ({cell.n} items)"


def step_name(entry: Entry, step: int) -> str:
    return "base model" if step == 0 else f"after learning {entry.results.tasks[step - 1]}"


def heatmap(entry: Entry) -> Heatmap:
    """Cells, labels and size of the accuracy-matrix heatmap (rows: steps; columns: tasks,
    then probes after a small gap)."""
    tasks, probes = entry.results.tasks, entry.results.probes
    columns_all = [*tasks, *probes]
    col_text = [shorten(t, 22) for t in columns_all]
    row_text = [
        "0 · base" if i == 0 else f"{i} · {shorten(tasks[i - 1], 16)}"
        for i in range(len(entry.results.matrix))
    ]
    cw, ch, gap, char = 64.0, 34.0, 12.0, 7.0  # char: rough width of one label character
    left = 12.0 + char * max(len(t) for t in row_text)
    top = 20.0 + 0.58 * char * max((len(t) for t in col_text), default=4)
    cells: list[HeatCell] = []
    columns: list[Label] = []
    for j, task in enumerate(columns_all):
        probe = j >= len(tasks)
        x = left + j * cw + (gap if probe else 0.0)
        columns.append(Label(x + cw / 2 - 4, top - 8, col_text[j], task, "probe" if probe else ""))
        for i, row in enumerate(entry.results.matrix):
            value = row[j]
            where = f"step {i} ({step_name(entry, i)}), {'probe' if probe else 'task'} {task}"
            trained = i == j + 1 and not probe
            if value is None:
                reason = cell_reason(entry, i, task)
                cells.append(
                    HeatCell(
                        x,
                        top + i * ch,
                        i,
                        task,
                        DASH,
                        f"{where}: {DASH} {reason}",
                        "#eceff3",
                        "#5a6473",
                        trained,
                        probe,
                        True,
                    )
                )
            else:
                fill, ink = heat_colour(value)
                text = fmt_number(value)
                cells.append(
                    HeatCell(
                        x,
                        top + i * ch,
                        i,
                        task,
                        text,
                        f"{where}: {text}",
                        fill,
                        ink,
                        trained,
                        probe,
                        False,
                    )
                )
    rows = [
        Label(left - 8, top + i * ch + ch / 2, text, step_name(entry, i))
        for i, text in enumerate(row_text)
    ]
    overhang = 0.82 * char * len(col_text[-1]) - cw / 2 if col_text else 0.0
    width = left + len(columns_all) * cw + (gap if probes else 0.0) + max(overhang, 0.0) + 6
    height = top + len(entry.results.matrix) * ch + 4
    separator = left + len(tasks) * cw + gap / 2 if probes else None
    return Heatmap(round(width, 1), round(height, 1), cw, ch, cells, columns, rows, separator)


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    title: str


@dataclass(frozen=True)
class Series:
    name: str
    colour: str
    dash: str
    paths: list[str]
    points: list[Point]
    legend_y: float
    legend_text: str
    css: str = ""


@dataclass(frozen=True)
class LineChart:
    width: float
    height: float
    left: float
    top: float
    right: float
    bottom: float
    legend_x: float
    x_ticks: list[Label]
    y_ticks: list[Label]
    series: list[Series]
    x_label: str
    y_label: str
    title: str


def line_chart(
    lines: Sequence[tuple[str, Sequence[float | None], str]], *, title: str, steps: int
) -> LineChart:
    """Accuracy (0..100) against step 0..``steps``; one line per (name, values, css class)."""
    left, top, plot_w = 52.0, 16.0, max(300.0, min(640.0, 90.0 * max(steps, 1)))
    plot_h = 260.0
    right, bottom = left + plot_w, top + plot_h
    legend_x = right + 28
    height = max(bottom + 46, top + 22 * len(lines) + 10)
    width = legend_x + 230

    def xy(i: int, v: float) -> tuple[float, float]:
        return (left + plot_w * i / max(steps, 1), bottom - plot_h * v / 100.0)

    series: list[Series] = []
    for k, (name, values, css) in enumerate(lines):
        colour = PALETTE[k % len(PALETTE)]
        dash = DASHES[(k // len(PALETTE)) % len(DASHES)] if css != "probe" else "5 4"
        segments: list[list[tuple[float, float]]] = [[]]
        points: list[Point] = []
        for i, v in enumerate(values):
            if v is None:
                segments.append([])
                continue
            x, y = xy(i, v)
            segments[-1].append((x, y))
            points.append(Point(x, y, f"{name}, step {i}: {fmt_number(v)}"))
        ds = ["M " + " L ".join(f"{x:.1f} {y:.1f}" for x, y in seg) for seg in segments if seg]
        series.append(
            Series(name, colour, dash, ds, points, top + 8 + 22 * k, shorten(name, 30), css)
        )
    x_ticks = [Label(xy(i, 0)[0], bottom + 18, str(i), f"step {i}") for i in range(steps + 1)]
    y_ticks = [Label(left - 8, xy(0, v)[1], str(v), "") for v in range(0, 101, 20)]
    return LineChart(
        width,
        height,
        left,
        top,
        right,
        bottom,
        legend_x,
        x_ticks,
        y_ticks,
        series,
        "step (0 = base model)",
        "accuracy",
        title,
    )


# --------------------------------------------------------------------------- sections


@dataclass
class Section:
    """One suite at one suite version: a table, its task pages and its CSV."""

    suite: str
    version: int | None
    entries: list[Entry] = field(default_factory=list)
    ranks: dict[str, int | None] = field(default_factory=dict)
    joint: dict[str, tuple[float, Entry] | None] = field(default_factory=dict)

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


def sections(entries: Sequence[Entry], suite_dirs: Sequence[str]) -> list[Section]:
    by_key: dict[tuple[str, int], Section] = {}
    for entry in entries:
        key = (entry.suite, entry.submission.suite_version)
        by_key.setdefault(key, Section(entry.suite, key[1])).entries.append(entry)
    out: list[Section] = []
    for (_, _), section in sorted(by_key.items(), key=lambda kv: (kv[0][0], -kv[0][1])):
        section.ranks = rank_groups_by_interval(
            {e.name: e.metric(RANK_METRIC) for e in section.entries},
            higher_is_better=METRIC_BY_KEY[RANK_METRIC].higher_is_better,
        )
        section.joint = joint_references(section.entries)
        pages = [slug(t) for t in section.tasks]
        if len(set(pages)) != len(pages):
            raise SiteError(f"suite {section.suite!r}: two task names map to one page name")

        def order(e: Entry, s: Section = section) -> tuple[float, float, str]:
            rank = s.ranks[e.name]
            last = e.metric(RANK_METRIC)
            value = last.value if last is not None and last.value is not None else -math.inf
            return (math.inf if rank is None else rank, -value, e.name)

        section.entries.sort(key=order)
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
            "parameters": sub.base_model.parameters,
            "suite": sub.suite,
            "suite_version": sub.suite_version,
            "order": sub.order,
            "steps": len(entry.results.tasks),
        }
        for info in METRICS:
            metric = entry.metric(info.key)
            ci = metric.ci95 if metric is not None else None
            row[info.key] = metric.value if metric is not None else None
            row[f"{info.key}_ci_low"] = ci[0] if ci else None
            row[f"{info.key}_ci_high"] = ci[1] if ci else None
        row["last_pct_of_joint"] = section.rel_joint(entry)
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
                    "last_pct_of_joint": section.rel_joint(entry),
                    "joint_reference": ref[1].name if ref else None,
                    "submission": entry.submission.model_dump(mode="json"),
                    "results": entry.results.model_dump(mode="json", by_alias=True),
                }
            )
    return {
        "schema": LEADERBOARD_SCHEMA,
        "harness": __version__,
        "metric_definitions": METRIC_DEFINITIONS,
        "rank_metric": RANK_METRIC,
        "rank_rule": RANK_RULE,
        "suites": [
            {
                "suite": s.suite,
                "suite_version": s.version,
                "entries": len(s.entries),
                "csv": s.csv_name if s.entries else None,
            }
            for s in all_sections
        ],
        "entries": entries,
    }


# --------------------------------------------------------------------------- pages


def assets_dir() -> Path:
    """Templates and static files: ``leaderboard/`` in a checkout, ``<prefix>/share/
    mllmcl-bench/leaderboard`` in an installed wheel (pyproject's data-files)."""
    here = Path(__file__).resolve().parent
    installed = Path(sys.prefix) / "share" / "mllmcl-bench" / "leaderboard"
    for candidate in (here.parent / "leaderboard", installed):
        if (candidate / "templates").is_dir() and (candidate / "static").is_dir():
            return candidate
    raise SiteError(
        f"leaderboard templates not found (looked in {here.parent / 'leaderboard'} and {installed})"
    )


def _environment(templates: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates)),
        autoescape=True,  # every page: all text from entries is escaped
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        num=fmt_number,
        params=fmt_parameters,
        seconds=fmt_seconds,
        https=https_url,
        shorten=shorten,
        tojson_text=lambda v: json.dumps(v, sort_keys=True, ensure_ascii=False),
    )
    env.globals.update(
        METRICS=METRICS,
        METRIC_BY_KEY=METRIC_BY_KEY,
        TABLE_METRICS=TABLE_METRICS,
        METRIC_DEFINITIONS=METRIC_DEFINITIONS,
        RANK_RULE=RANK_RULE,
        DASH=DASH,
        MetricCell=MetricCell,
        null_reason=cell_reason,
        ordered_metrics=ordered_metrics,
        version=__version__,
        METHOD_FAMILIES=METHOD_FAMILIES,
    )
    return env


@dataclass(frozen=True)
class CheckpointRow:
    step: int
    task: str
    kind: str
    source: str
    revision: str | None
    declared_sha256: str | None
    content_sha256: str | None


def checkpoint_rows(entry: Entry) -> list[CheckpointRow]:
    """Step 0 (base model) … T: what the submission declares, with the harness's content hash."""
    sub = entry.submission
    measured = {
        c.get("step"): c for c in entry.results.provenance.checkpoints if isinstance(c, dict)
    }

    def content(step: int) -> str | None:
        value = measured.get(step, {}).get("content_sha256")
        return None if value is None else str(value)

    base = sub.base_model
    base_source = base.path or (f"hf://{base.id}@{base.revision}" if base.revision else base.id)
    rows = [CheckpointRow(0, "", "base", base_source, base.revision, None, content(0))]
    for ckpt in sub.checkpoints:
        match = HF_URI.match(ckpt.path)
        revision = match.group("revision") if match else None
        rows.append(
            CheckpointRow(
                ckpt.step,
                ckpt.task,
                ckpt.kind,
                ckpt.path,
                revision,
                ckpt.sha256,
                content(ckpt.step),
            )
        )
    declared = {r.step for r in rows}
    for step, data in sorted((k, v) for k, v in measured.items() if isinstance(k, int)):
        if step not in declared:
            task = entry.results.tasks[step - 1] if 0 < step <= len(entry.results.tasks) else ""
            rows.append(
                CheckpointRow(
                    step, task, str(data.get("kind", "")), DASH, None, None, content(step)
                )
            )
    return rows


def _render(env: jinja2.Environment, template: str, path: Path, depth: int, **context: Any) -> None:
    html = env.get_template(template).render(root="../" * depth, **context)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")


def render_site(all_sections: Sequence[Section], out: Path, assets: Path) -> None:
    """Write every page, the downloads and the static files into ``out`` (an empty folder)."""
    env = _environment(assets / "templates")
    static = out / "static"
    static.mkdir(parents=True)
    for item in sorted((assets / "static").iterdir()):
        if item.is_file() and not item.name.startswith("."):
            shutil.copyfile(item, static / item.name)
    total = sum(len(s.entries) for s in all_sections)
    _render(env, "index.html", out / "index.html", 0, sections=all_sections, total=total)
    for section in all_sections:
        if not section.entries:
            continue
        section_table(section).to_csv(out / section.csv_name, index=False, lineterminator="\n")
        for entry in section.entries:
            chart = line_chart(
                [
                    (
                        t,
                        [row[j] for row in entry.results.matrix],
                        "probe" if j >= len(entry.results.tasks) else "task",
                    )
                    for j, t in enumerate(entry.columns)
                ],
                title=f"Accuracy per task across steps: {entry.submission.method}",
                steps=len(entry.results.tasks),
            )
            _render(
                env,
                "entry.html",
                out / section.entry_page(entry),
                1,
                section=section,
                entry=entry,
                sub=entry.submission,
                res=entry.results,
                heat=heatmap(entry),
                chart=chart,
                checkpoints=checkpoint_rows(entry),
            )
        for task in section.tasks:
            having = [e for e in section.entries if task in e.columns]
            steps = max(len(e.results.tasks) for e in having)
            series = []
            for e in having:
                j = e.columns.index(task)
                series.append([row[j] for row in e.results.matrix])
            chart = line_chart(
                [
                    (
                        e.submission.method
                        if len({x.submission.method for x in having}) == len(having)
                        else f"{e.submission.method} ({e.name})",
                        values,
                        "",
                    )
                    for e, values in zip(having, series, strict=True)
                ],
                title=f"Accuracy on {task} across steps, per entry",
                steps=steps,
            )
            _render(
                env,
                "task.html",
                out / section.task_page(task),
                2,
                section=section,
                task=task,
                probe=section.is_probe(task),
                entries=having,
                series=series,
                steps=steps,
                chart=chart,
            )
    data = json.dumps(leaderboard_json(all_sections), indent=1, ensure_ascii=False, allow_nan=False)
    (out / "leaderboard.json").write_text(data + "\n", encoding="utf-8")
    (out / SITE_MARKER).write_text("built by mllmcl-bench site; safe to delete\n", encoding="utf-8")


def site_build(submissions_dir: Path, out_dir: Path) -> Path:
    """Build the static leaderboard from ``submissions_dir`` into ``out_dir``; returns index.html.

    Every entry is read and checked first; a bad one raises :class:`SiteError` naming the
    file, and nothing is written. The site is rendered into a sibling folder and then moved
    into place, replacing ``out_dir`` only when it is empty or a site built here before.
    """
    out_dir = Path(out_dir)
    if out_dir.exists():
        if not out_dir.is_dir():
            raise SiteError(f"{out_dir}: exists and is not a folder")
        if any(out_dir.iterdir()) and not (out_dir / SITE_MARKER).is_file():
            raise SiteError(
                f"{out_dir}: not empty and not a site built by mllmcl-bench; "
                "refusing to replace it (choose another --out)"
            )
    entries, suite_dirs = load_entries(Path(submissions_dir))
    all_sections = sections(entries, suite_dirs)
    assets = assets_dir()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = out_dir.with_name(f".{out_dir.name}.building")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    try:
        render_site(all_sections, staging, assets)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return out_dir / "index.html"
