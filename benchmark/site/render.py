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
    <suite>-v<N>/compare.html       two entries, ?a=<entry>&b=<entry>: both matrices, b - a,
                                    both curves per task (site.js draws them from the page's
                                    data: each entry's matrix and pre-rendered heatmap, once)
    <suite>-v<N>/reported/<entry>.html  a reported-only entry (a paper's numbers, never ranked)
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

import json
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import jinja2

from benchmark import __version__
from benchmark.entry.submission import (
    HF_URI,
    METHOD_FAMILIES,
)
from benchmark.metrics.definitions import METRIC_DEFINITIONS_VERSION, metric_table
from benchmark.metrics.intervals import INTERVAL_METHODS
from benchmark.paths import installed_data_dir, repo_root
from benchmark.site.charts import caption_note, cell_reason, heatmap, line_chart, scatter
from benchmark.site.entries import (
    DASH,
    MINUS,
    RANK_RULE,
    SITE_MARKER,
    Entry,
    SiteError,
    SubmittedEntry,
    load_entries,
)
from benchmark.site.format import (
    MetricCell,
    fmt_number,
    fmt_parameters,
    fmt_seconds,
    https_url,
    ordered_metrics,
    shorten,
)
from benchmark.site.paper import PAPER_METRIC, matrix_difference, paper_row, paper_rows
from benchmark.site.tables import (
    Section,
    base_key,
    board_columns,
    leaderboard_json,
    section_table,
    sections,
)

# --------------------------------------------------------------------------- pages

PARAMS_FROM = {
    "counted": "parameters of the base model, counted by the harness from its weights",
    "declared": "parameters of the base model, as submission.yaml declares them",
    None: "unknown: not counted by the harness and not declared",
}


def assets_dir() -> Path:
    """Templates and static files: ``leaderboard/`` in a checkout, ``<prefix>/share/
    mllmcl-bench/leaderboard`` in an installed wheel (pyproject's data-files)."""
    checkout = repo_root() / "leaderboard"
    installed = installed_data_dir() / "leaderboard"
    for candidate in (checkout, installed):
        if (candidate / "templates").is_dir() and (candidate / "static").is_dir():
            return candidate
    raise SiteError(f"leaderboard templates not found (looked in {checkout} and {installed})")


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
        METRICS=metric_table(),
        METRIC_BY_KEY={d.key: d for d in metric_table()},
        METRIC_DEFINITIONS=METRIC_DEFINITIONS_VERSION,
        INTERVAL_METHODS=INTERVAL_METHODS,
        board_columns=board_columns,
        RANK_RULE=RANK_RULE,
        DASH=DASH,
        MetricCell=MetricCell,
        null_reason=cell_reason,
        caption_note=caption_note,
        ordered_metrics=ordered_metrics,
        version=__version__,
        METHOD_FAMILIES=METHOD_FAMILIES,
        base_key=base_key,
        paper_row=paper_row,
        PAPER_METRIC=PAPER_METRIC,
        PARAMS_FROM=PARAMS_FROM,
        scatter=scatter,
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


@dataclass(frozen=True)
class JudgeRow:
    """One task of an entry, over all its cells: how comparable its numbers are with the
    references' (items their rules could not read, so they would have asked an LLM judge)."""

    task: str
    items: int
    parse_failures: int
    judge_needed: int | None  # None: results written before the count was recorded

    @property
    def share(self) -> float | None:
        """``judge_needed`` as a percentage of the items (None when unknown or no items)."""
        if self.judge_needed is None or not self.items:
            return None
        return 100.0 * self.judge_needed / self.items


def judge_rows(entry: Entry) -> list[JudgeRow]:
    """Per task (trained tasks, then probes): items, parse failures and judge-needed items,
    summed over the task's cells."""
    rows = []
    for task in entry.columns:
        cells = [c for c in entry.results.cells if c.task == task]
        counts = [c.judge_needed for c in cells]
        rows.append(
            JudgeRow(
                task,
                sum(c.n for c in cells),
                sum(c.parse_failures for c in cells),
                None if any(n is None for n in counts) else sum(n for n in counts if n),
            )
        )
    return rows


@dataclass(frozen=True)
class SitePages:
    """Writes the site's pages into ``out``, each with ``root``: the way back from the page to
    ``out`` (``../`` once per folder of the page's path), for its relative links."""

    env: jinja2.Environment
    out: Path

    def write(self, template: str, page: str, **context: Any) -> None:
        """Render ``template`` into ``out/page`` (``page``: a relative path with ``/``)."""
        html = self.env.get_template(template).render(root="../" * page.count("/"), **context)
        path = self.out / page
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html, encoding="utf-8")

    def write_entry(
        self,
        template: str,
        page: str,
        section: Section,
        entry: SubmittedEntry,
        **context: Any,
    ) -> None:
        """An entry's page, measured or reported: with its section, the entry and its
        submission (``sub``)."""
        self.write(template, page, section=section, entry=entry, sub=entry.submission, **context)


def render_site(all_sections: Sequence[Section], out: Path, assets: Path) -> None:
    """Write every page, the downloads and the static files into ``out`` (an empty folder)."""
    pages = SitePages(_environment(assets / "templates"), out)
    static = out / "static"
    static.mkdir(parents=True)
    for item in sorted((assets / "static").iterdir()):
        if item.is_file() and not item.name.startswith("."):
            shutil.copyfile(item, static / item.name)
    total = sum(len(s.entries) for s in all_sections)
    pages.write("index.html", "index.html", sections=all_sections, total=total)
    for section in all_sections:
        for reported in section.reported:
            pages.write_entry(
                "reported.html",
                section.reported_page(reported),
                section,
                reported,
                rep=reported.reported,
                full=reported.reported.full_matrix(),
                metrics=reported.metrics,
            )
        if not section.entries:
            continue
        section_table(section).to_csv(out / section.csv_name, index=False, lineterminator="\n")
        heatmaps = {entry.name: heatmap(entry) for entry in section.entries}  # entry + compare
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
            pages.write_entry(
                "entry.html",
                section.entry_page(entry),
                section,
                entry,
                res=entry.results,
                heat=heatmaps[entry.name],
                chart=chart,
                checkpoints=checkpoint_rows(entry),
                judge=judge_rows(entry),
                paper_vs=paper_rows(entry),
                paper_diff=matrix_difference(entry),
                peers=[e for e in section.entries if e is not entry],
            )
        if len(section.entries) > 1:
            pages.write(
                "compare.html",
                section.compare_page,
                section=section,
                heatmaps=list(heatmaps.values()),
                data=compare_data(section),
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
            pages.write(
                "task.html",
                section.task_page(task),
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


def compare_data(section: Section) -> dict[str, Any]:
    """What site.js needs to draw any two of the section's entries on its compare page, each
    entry once: its matrix with every cell already formatted, its legend labels, and per step
    count a line chart's frame (size, ticks, series colours) as :func:`line_chart` lays it out;
    the heatmaps and summary cells come pre-rendered in the page."""
    step_counts = sorted({len(e.results.tasks) for e in section.entries})
    frames = {
        str(steps): asdict(line_chart([("", [], ""), ("", [], "")], title="", steps=steps))
        for steps in step_counts
    }
    entries = {
        e.name: {
            "method": e.submission.method,
            "base": base_key(e),
            "steps": len(e.results.tasks),
            "columns": e.columns,
            "matrix": e.results.matrix,
            "text": [[fmt_number(v) for v in row] for row in e.results.matrix],
            "legend": {
                "method": shorten(e.submission.method, 30),
                "name": shorten(e.name, 30),
            },
        }
        for e in section.entries
    }
    return {"dash": DASH, "minus": MINUS, "frames": frames, "entries": entries}


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
