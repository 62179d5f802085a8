"""Scoring the grid: item scores → the accuracy matrix, metrics with intervals, cell summaries."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmark.entry.results import (
    RESULTS_SCHEMA,
    CellResult,
    MetricResult,
    ProbeResult,
    Provenance,
    Results,
)
from benchmark.errors import BenchmarkError
from benchmark.evaluation.plan import Cell, Plan
from benchmark.metrics import (
    METRIC_DEFINITIONS_VERSION,
    bootstrap_metrics,
    metric_table,
    probe_drops,
)
from benchmark.scoring import CellScore, aggregate, score
from benchmark.scoring.caption import (
    CAPTION_SCORER,
    CaptionCell,
    CaptionMetricsUnavailable,
    caption_cells,
)

DEFAULT_N_BOOT = 1000


def _caption_cells(cells: Sequence[Cell]) -> dict[tuple[int, str], CaptionCell]:
    """The caption metrics of every caption cell, computed together (one Java start)."""
    chosen = []
    for cell in cells:
        captions = [r.scorer == CAPTION_SCORER for r in cell.records]
        if any(captions) and not all(captions):
            raise BenchmarkError(
                f"step {cell.step} {cell.task}: caption items ({CAPTION_SCORER}, scored per "
                "cell) are mixed with items of other scorers"
            )
        if captions and all(captions):
            chosen.append(cell)
    try:
        results = caption_cells(
            [
                ([c.predictions[r.uid] for r in c.records], [r.answers for r in c.records])
                for c in chosen
            ]
        )
    except CaptionMetricsUnavailable as exc:
        raise BenchmarkError(str(exc)) from None
    return {(c.step, c.task): result for c, result in zip(chosen, results, strict=True)}


def _cell_scores(
    cell: Cell, caption: CaptionCell | None
) -> tuple[np.ndarray, CellScore, dict[str, float] | None]:
    """Item values, the cell's summary and, for caption cells, the caption metrics."""
    if caption is not None:
        if caption.average > 100:  # CIDEr x 100 passes 100 on near-copies of the references
            raise BenchmarkError(
                f"step {cell.step} {cell.task}: the caption metrics' Average is "
                f"{caption.average:.1f}, above 100, which the accuracy matrix (0-100) cannot "
                'hold; the predictions are kept in the cache (README, "Caption cells")'
            )
        values = np.array([s.value for s in caption.items], dtype=float)
        agg = CellScore(caption.average, len(values), 0, 0)
        metrics = {k: round(v, 6) for k, v in caption.metrics.items() if math.isfinite(v)}
        return values, agg, metrics
    scores = [score(r.scorer, cell.predictions[r.uid], r.answers, r.choices) for r in cell.records]
    return np.array([s.value for s in scores], dtype=float), aggregate(scores), None


def _finite(value: float | None) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


@dataclass
class GridScores:
    """The scored grid: every field of ``results.json`` but the provenance, typed."""

    fields: dict[str, Any]
    rows: dict[tuple[int, str], list[tuple[str, str]]]  # (step, task) → (uid, prediction)

    def results(self, provenance: Provenance) -> Results:
        """The typed results (validated here, long before anything is written)."""
        return Results(**self.fields, provenance=provenance)


def score_plan(plan_: Plan, *, n_boot: int = DEFAULT_N_BOOT, seed: int = 0) -> GridScores:
    """Score every cell: the matrix, cell summaries, metrics with intervals, probe drops."""
    T = len(plan_.tasks)
    columns = [*plan_.tasks, *plan_.probes]
    matrix: list[list[float | None]] = [[None] * len(columns) for _ in range(T + 1)]
    per_item: dict[str, np.ndarray] = {}
    cells_out: list[CellResult] = []
    rows: dict[tuple[int, str], list[tuple[str, str]]] = {}
    for cell in plan_.cells:
        missing = [r.uid for r in cell.records if r.uid not in cell.predictions]
        if missing:
            raise BenchmarkError(
                f"step {cell.step} {cell.task}: {len(missing)} item(s) "
                f"without a prediction, e.g. {missing[0]}"
            )
    captions = _caption_cells(plan_.cells)
    for cell in plan_.cells:
        values, agg, caption_metrics = _cell_scores(cell, captions.get((cell.step, cell.task)))
        column = columns.index(cell.task)
        matrix[cell.step][column] = _finite(float(agg.accuracy))
        if cell.task not in per_item:
            per_item[cell.task] = np.full((T + 1, len(cell.records)), np.nan)
        per_item[cell.task][cell.step] = values
        cell_rows = [(r.uid, cell.predictions[r.uid]) for r in cell.records]
        rows[(cell.step, cell.task)] = cell_rows
        cells_out.append(
            CellResult(
                step=cell.step,
                task=cell.task,
                n=agg.n,
                accuracy=_finite(float(agg.accuracy)),
                parse_failures=agg.parse_failures,
                judge_needed=agg.judge_needed,
                predictions_sha256=_rows_sha256(cell_rows),
                metrics=caption_metrics,
            )
        )
    trained = [per_item.get(task, np.full((T + 1, 1), np.nan)) for task in plan_.tasks]
    intervals = bootstrap_metrics(trained, base_row=True, n_boot=n_boot, seed=seed)
    metrics = {
        name: MetricResult(
            value=_finite(interval.value),
            ci95=None
            if interval.ci95 is None
            else (float(interval.ci95[0]), float(interval.ci95[1])),
            reason=interval.reason,
        )
        for name, interval in intervals.items()
    }
    drops = []
    if plan_.probes:
        probe_matrix = np.array(
            [[np.nan if v is None else v for v in row[T:]] for row in matrix], dtype=float
        )
        for probe, drop in zip(plan_.probes, probe_drops(probe_matrix), strict=True):
            drops.append(
                ProbeResult(
                    task=probe,
                    series=[_finite(float(v)) for v in drop["series"]],
                    drop=_finite(drop["drop"]),
                    max_drop=_finite(drop["max_drop"]),
                )
            )
    fields = {
        "schema": RESULTS_SCHEMA,
        "suite": plan_.suite.id,
        "suite_version": plan_.suite.version,
        "order": plan_.submission.order,
        "task_hashes": {t: plan_.manifest["task_hashes"][t] for t in columns},
        "tasks": list(plan_.tasks),
        "probes": list(plan_.probes),
        "matrix": matrix,
        "cells": cells_out,
        "metrics": metrics,
        "probe_drops": drops,
        "metric_definitions": METRIC_DEFINITIONS_VERSION,
        "bootstrap": {
            "replicates": n_boot,
            "seed": seed,
            "level": 0.95,
            "paired": True,
            "intervals": {d.key: d.interval for d in metric_table()},
        },
        "verified": plan_.submission.verified,
        "contamination": {
            task: note
            for task, note in plan_.suite.contaminated(plan_.submission.base_model.id).items()
            if task in columns
        }
        or None,
    }
    return GridScores(fields, rows)


def _rows_sha256(rows: Sequence[tuple[str, str]]) -> str:
    import hashlib

    digest = hashlib.sha256()
    for uid, prediction in rows:
        digest.update(
            json.dumps({"uid": uid, "prediction": prediction}, ensure_ascii=False).encode("utf-8")
        )
        digest.update(b"\n")
    return digest.hexdigest()


def _fmt(value: float | None, width: int = 6) -> str:
    return "—".rjust(width) if value is None else f"{value:{width}.1f}"


def summary_text(results: Results) -> str:
    """The accuracy matrix and the metrics with intervals, for the terminal."""
    columns = [*results.tasks, *results.probes]
    width = max(6, *(len(c) for c in columns))
    lines = ["accuracy matrix (rows: model after step i; step 0 = base model)"]
    lines.append("step  " + " ".join(c.rjust(width) for c in columns))
    for step, row in enumerate(results.matrix):
        lines.append(f"{step:>4}  " + " ".join(_fmt(v, width) for v in row))
    lines.append("")
    lines.append("metric           value   95% interval")
    for name, metric in results.metrics.items():
        ci = metric.ci95
        interval = f"[{ci[0]:.1f}, {ci[1]:.1f}]" if ci else (metric.reason or "")
        lines.append(f"{name:<15} {_fmt(metric.value, 6)}   {interval}")
    for probe in results.probe_drops:
        lines.append(f"probe {probe.task}: drop {_fmt(probe.drop)} (max {_fmt(probe.max_drop)})")
    failures = sum(c.parse_failures for c in results.cells)
    items = sum(c.n for c in results.cells)
    lines.append(f"\n{items} predictions scored, {failures} could not be parsed")
    judged = sum(c.judge_needed or 0 for c in results.cells)
    if judged:
        lines.append(
            f"{judged} the reference's rules could not read (it would have asked an LLM judge)"
        )
    return "\n".join(lines)
