"""Synthetic leaderboard entries for the site tests: submission.yaml + results.json.

Both files are validated against the real schemas (``Submission``, ``Results``) before they
are written, so the fixtures cannot drift from the contract. Metrics are computed here from
the matrix with the formulas of DESIGN.md (a small independent implementation), each with a
symmetric interval of ``half_width`` unless given.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from benchmark.entry.results import Results
from benchmark.entry.submission import Submission
from benchmark.metrics import METRIC_DEFINITIONS_VERSION

SHA40 = "0123456789abcdef0123456789abcdef01234567"
TASKS = ("colour", "shape", "count", "position")
PAYLOAD_SCRIPT = "<script>window.__pwned=1</script>"
PAYLOAD_IMG = '"><img src=x onerror=window.__pwned=1>'
PAYLOAD = f"{PAYLOAD_SCRIPT}{PAYLOAD_IMG} javascript:window.__pwned=1"


def _hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def make_matrix(
    tasks: Sequence[str],
    probes: Sequence[str] = (),
    *,
    base: float = 30.0,
    learn: float = 80.0,
    forget: float = 6.0,
    probe_base: float = 60.0,
    probe_drop: float = 2.0,
) -> list[list[float | None]]:
    """R[i][j]: base accuracy before a task is learned, ``learn`` right after, then minus
    ``forget`` per later step; probes start at ``probe_base`` and lose ``probe_drop`` a step."""
    T = len(tasks)
    matrix: list[list[float | None]] = []
    for i in range(T + 1):
        row: list[float | None] = []
        for j in range(T):
            learned_at = j + 1
            value = base + j if i < learned_at else learn - forget * (i - learned_at)
            row.append(round(min(max(value, 0.0), 100.0), 3))
        for _ in probes:
            row.append(round(max(probe_base - probe_drop * i, 0.0), 3))
        matrix.append(row)
    return matrix


def metric_values(matrix: Sequence[Sequence[float | None]], T: int) -> dict[str, float | None]:
    """The CL metrics of DESIGN.md from the trained columns (rows 0..T, columns 0..T-1)."""
    R = [[float(v) if v is not None else float("nan") for v in row[:T]] for row in matrix]

    def mean(xs: list[float]) -> float:
        return sum(xs) / len(xs)

    out: dict[str, float | None] = {
        "last": mean([R[T][j] for j in range(T)]),
        "avg": mean([mean([R[i][j] for j in range(i)]) for i in range(1, T + 1)]),
        "mft": mean([R[j + 1][j] for j in range(T)]),
        "zero_shot_gain": mean([R[T][j] - R[0][j] for j in range(T)]),
        "bwt": None,
        "forgetting": None,
        "fwt": None,
    }
    if T >= 2:
        out["bwt"] = mean([R[T][j] - R[j + 1][j] for j in range(T - 1)])
        out["forgetting"] = mean(
            [max(R[k][j] for k in range(j + 1, T)) - R[T][j] for j in range(T - 1)]
        )
        out["fwt"] = mean([R[j][j] - R[0][j] for j in range(1, T)])
    return out


def make_metrics(
    matrix: Sequence[Sequence[float | None]],
    T: int,
    *,
    half_width: float = 1.5,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, dict[str, Any]]:
    metrics: dict[str, dict[str, Any]] = {}
    for name, value in metric_values(matrix, T).items():
        if value is None:
            metrics[name] = {"value": None, "ci95": None, "reason": "needs at least two steps"}
        else:
            value = round(value, 4)
            metrics[name] = {
                "value": value,
                "ci95": [value - half_width, value + half_width],
                "reason": None,
            }
    for name, change in (overrides or {}).items():
        metrics[name] = {**metrics.get(name, {}), **change}
    return metrics


def write_entry(
    submissions: Path,
    name: str,
    *,
    suite: str = "shapes",
    method: str | None = None,
    family: str = "lora-sequential",
    base_model: str = "org/tiny-vlm",
    parameters: int | None = 7_000_000_000,
    tasks: Sequence[str] = TASKS,
    probes: Sequence[str] = (),
    matrix: list[list[float | None]] | None = None,
    metrics: Mapping[str, Any] | None = None,
    half_width: float = 1.5,
    submission: Mapping[str, Any] | None = None,
    results: Mapping[str, Any] | None = None,
    base_parameters: int | None = None,
    **matrix_options: float,
) -> Path:
    """Write ``submissions/<suite>/<name>/`` with a valid submission.yaml and results.json.

    ``metrics`` overrides single metrics (``{"last": {"value": 50, "ci95": [49, 51]}}``);
    ``submission`` and ``results`` override top-level fields of either file."""
    T = len(tasks)
    matrix = matrix if matrix is not None else make_matrix(tasks, probes, **matrix_options)
    sub: dict[str, Any] = {
        "name": name,
        "method": method or name.replace("-", " ").title(),
        "method_family": family,
        "suite": suite,
        "suite_version": 1,
        "order": "default",
        "base_model": {"id": base_model, "revision": SHA40, "parameters": parameters},
        "checkpoints": [
            {
                "step": i + 1,
                "task": t,
                "kind": "lora",
                "path": f"hf://org/{name}@{SHA40}/step-{i + 1}" if i % 2 else f"ckpt/step-{i + 1}",
            }
            for i, t in enumerate(tasks)
        ],
        "uses_replay": False,
        "replay_buffer": None,
        "task_id_at_inference": False,
        "extra_data": None,
        "paper": "https://arxiv.org/abs/2506.05453",
        "code": "https://github.com/example/method",
        "contact": "someone@example.org",
        "license": "apache-2.0",
        "date": "2026-11-22",
    }
    sub.update(submission or {})
    if sub["base_model"] is not None and parameters is None:
        sub["base_model"].pop("parameters", None)
    checked_sub = Submission.model_validate(sub)
    columns = [*tasks, *probes]
    cells = [
        {
            "step": i,
            "task": task,
            "n": 50,
            "accuracy": matrix[i][j],
            "parse_failures": (i + j) % 3,
            "judge_needed": (i + 2 * j) % 4,
            "predictions_sha256": _hex(f"{name}/{i}/{task}"),
        }
        for i in range(T + 1)
        for j, task in enumerate(columns)
        if matrix[i][j] is not None
    ]
    probe_drops = []
    for k, probe in enumerate(probes):
        series = [row[T + k] for row in matrix]
        drop = None if series[0] is None or series[-1] is None else series[0] - series[-1]
        known = [series[0] - v for v in series if v is not None and series[0] is not None]
        probe_drops.append(
            {
                "task": probe,
                "series": series,
                "drop": drop,
                "max_drop": max(known) if known else None,
            }
        )
    res: dict[str, Any] = {
        "schema": "mllmcl-bench/results/1",
        "suite": sub["suite"],
        "suite_version": sub["suite_version"],
        "order": sub["order"],
        "task_hashes": {t: _hex(f"task/{t}") for t in columns},
        "tasks": list(tasks),
        "probes": list(probes),
        "matrix": matrix,
        "cells": cells,
        "metrics": make_metrics(matrix, T, half_width=half_width, overrides=metrics),
        "probe_drops": probe_drops,
        "metric_definitions": METRIC_DEFINITIONS_VERSION,
        "bootstrap": {"replicates": 1000, "seed": 0, "level": 0.95, "paired": True},
        "verified": checked_sub.verified,
        "provenance": {
            "harness": "0.1.0",
            "backend": "replay",
            "trust_remote_code": False,
            "step_backends": None,
            "versions": {"python": "3.11.7", "transformers": "5.17.0", "torch": "2.13.0"},
            "generation": {
                "temperature": 0.0,
                "repetition_penalty": 1.0,
                "max_new_tokens": {t: 8 for t in columns},
            },
            "chat_template_sha256": _hex("template"),
            "checkpoints": [
                {
                    "step": i,
                    "kind": "base" if i == 0 else "lora",
                    "content_sha256": _hex(f"{name}/ckpt/{i}"),
                }
                for i in range(T + 1)
            ],
            "limit": None,
            "started": "2026-11-22T10:00:00+00:00",
            "finished": "2026-11-22T10:42:05+00:00",
            "wall_seconds": 2525.0,
            "generated": 0,
            **({} if base_parameters is None else {"base_parameters": base_parameters}),
        },
    }
    res.update(results or {})
    Results.model_validate(res)
    entry = submissions / suite / name
    entry.mkdir(parents=True, exist_ok=True)
    (entry / "submission.yaml").write_text(
        yaml.safe_dump(sub, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    (entry / "results.json").write_text(
        json.dumps(res, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return entry


PAPER_SOURCE = {"url": "https://arxiv.org/abs/2506.05453", "location": "Table 2, row LoRA-FT"}


def reported_block(
    *, last: float | None = None, matrix: bool = True, **metrics: float
) -> dict[str, Any]:
    """A ``reported:`` block: a lower-triangular matrix of the default tasks (base row
    included) and/or stated metrics."""
    block: dict[str, Any] = {"source": dict(PAPER_SOURCE)}
    if matrix:
        block["tasks"] = list(TASKS)
        block["matrix"] = [
            [30.0, 31.0, 32.0, 33.0],
            [80.0],
            [72.0, 80.0],
            [64.0, 72.0, 80.0],
            [56.0, 64.0, 72.0, 80.0],
        ]
    stated = dict(metrics)
    if last is not None:
        stated["last"] = last
    if stated:
        block["metrics"] = stated
    return block


def write_reported_entry(
    submissions: Path,
    name: str,
    *,
    suite: str = "shapes",
    method: str | None = None,
    base_model: str = "org/tiny-vlm",
    reported: Mapping[str, Any] | None = None,
    submission: Mapping[str, Any] | None = None,
) -> Path:
    """``submissions/<suite>/<name>/submission.yaml`` of a reported-only entry (a paper's
    table: no checkpoints, no predictions, no results.json)."""
    sub: dict[str, Any] = {
        "name": name,
        "method": method or name.replace("-", " ").title(),
        "method_family": "lora-sequential",
        "suite": suite,
        "suite_version": 1,
        "order": "default",
        "base_model": {"id": base_model, "revision": SHA40},
        "reported_only": True,
        "reported": dict(reported) if reported is not None else reported_block(),
        "paper": "https://arxiv.org/abs/2506.05453",
        "date": "2026-11-22",
    }
    sub.update(submission or {})
    Submission.model_validate(sub)
    entry = submissions / suite / name
    entry.mkdir(parents=True, exist_ok=True)
    (entry / "submission.yaml").write_text(
        yaml.safe_dump(sub, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    return entry


def write_board(submissions: Path) -> dict[str, Path]:
    """A small leaderboard: five shapes entries (two base models, replay, task id, extra data,
    self-reported, joint), a routing-like suite with probes and T = 1, and an empty suite."""
    entries = {
        "seq-lora": write_entry(
            submissions,
            "seq-lora",
            method="Sequential LoRA",
            learn=78.0,
            forget=9.0,
            # the paper: last 56.0 (outside our interval 64.5 +- 1.5), avg and bwt from its
            # lower-triangular matrix, fwt not computable from it
            submission={"reported": reported_block(last=56.0)},
        ),
        "replay-lora": write_entry(
            submissions,
            "replay-lora",
            method="Replay LoRA",
            family="replay",
            learn=80.0,
            forget=3.0,
            submission={"uses_replay": True, "replay_buffer": 200},
        ),
        "moe-router": write_entry(
            submissions,
            "moe-router",
            method="MoE router",
            family="routing",
            learn=81.0,
            forget=1.0,
            metrics={"fwt": {"value": None, "ci95": None, "reason": "row 0 missing: no base run"}},
            submission={"task_id_at_inference": True, "predictions_only": True, "checkpoints": []},
        ),
        "joint-mtl": write_entry(
            submissions,
            "joint-mtl",
            method="Multi-task (joint)",
            family="joint",
            base_parameters=7_061_000_000,  # counted by the harness: wins over the declared 7B
            learn=84.0,
            forget=0.0,
        ),
        "small-base": write_entry(
            submissions,
            "small-base",
            method="Sequential LoRA (small)",
            base_model="org/small-vlm",
            parameters=1_500_000_000,
            learn=60.0,
            forget=10.0,
            submission={"extra_data": "10k synthetic captions"},
        ),
        "probe-one": write_entry(
            submissions,
            "probe-one",
            suite="routing",
            method="Router one",
            family="routing",
            tasks=("chartqa-ft",),
            probes=("mmbench", "docvqa"),
            parameters=None,  # neither counted nor declared: "unknown"
        ),
    }
    entries["paper-table"] = write_reported_entry(
        submissions, "paper-table", method="Paper's LoRA-FT", reported=reported_block(bwt=-15.5)
    )
    (submissions / "msvqa").mkdir(parents=True, exist_ok=True)  # a suite with no entries
    return entries


PAYLOAD_SUITE = '"><img src=x onerror=window.__pwned=1>'  # a valid folder name: no "/"


def write_payload_entry(submissions: Path, *, suite: str = PAYLOAD_SUITE) -> Path:
    """An entry whose every free-text field (and every name that comes from results.json)
    carries an HTML/JS injection payload. The site must show it as inert text."""
    tasks = (PAYLOAD_SCRIPT, PAYLOAD_IMG)
    probes = ("javascript:window.__pwned=1",)
    matrix = make_matrix(tasks, probes)
    matrix[2][2] = None  # a null probe cell: its reason is shown too
    paper = {
        "source": {"url": "https://example.org/paper?x=javascript:1", "location": PAYLOAD},
        "tasks": list(tasks),
        "matrix": [[10.0, 20.0], [70.0], [60.0, 75.0]],
        "metrics": {"last": 66.0},
    }
    # a second measured entry (a compare page, a second scatter point) and a paper's table
    write_entry(
        submissions,
        "payload-two",
        suite=suite,
        method=PAYLOAD_IMG,
        family="other",
        base_model="org/other-vlm",
        tasks=tasks,
        probes=probes,
        submission={"notes": PAYLOAD, "reported": paper},
    )
    write_reported_entry(
        submissions,
        "payload-paper",
        suite=suite,
        method=PAYLOAD,
        base_model=PAYLOAD,
        reported=paper,
        submission={"notes": PAYLOAD, "extra_data": PAYLOAD},
    )
    return write_entry(
        submissions,
        "payload-entry",
        suite=suite,
        method=PAYLOAD,
        family="other",
        base_model=PAYLOAD,
        tasks=tasks,
        probes=probes,
        matrix=matrix,
        metrics={"fwt": {"value": None, "ci95": None, "reason": PAYLOAD}},
        submission={
            "order": PAYLOAD,
            "extra_data": PAYLOAD,
            "notes": f"{PAYLOAD}\nsecond line",
            "license": PAYLOAD_IMG,
            "uses_replay": True,
            "replay_buffer": 5,
            "checkpoints": [
                {"step": 1, "task": PAYLOAD_SCRIPT, "kind": "lora", "path": "checkpoints/one"},
                {"step": 2, "task": PAYLOAD_IMG, "kind": "full", "path": "checkpoints/two"},
            ],
        },
        results={
            "order": PAYLOAD,
            "provenance": {
                "harness": PAYLOAD_SCRIPT,
                "backend": PAYLOAD_IMG,
                "trust_remote_code": False,
                "step_backends": None,
                "versions": {PAYLOAD_SCRIPT: PAYLOAD_IMG},
                "generation": {PAYLOAD_IMG: PAYLOAD_SCRIPT},
                "chat_template_sha256": PAYLOAD_SCRIPT,
                "checkpoints": [{"step": 0, "kind": PAYLOAD_IMG, "content_sha256": PAYLOAD}],
                "limit": None,
                "started": PAYLOAD_SCRIPT,
                "finished": PAYLOAD_IMG,
                "wall_seconds": 12.5,
                "generated": 3,
            },
        },
    )
