"""``mllmcl-bench evaluate``: a submission's checkpoints on the full accuracy matrix.

1. Validate the submission, load its suite and the prepared records, resolve checkpoints.
2. Plan the grid: rows = step 0 (the base model) … step T, columns = every task of the
   order and every probe (not just the lower triangle).
3. Look every item up in the prediction cache; hand only the missing ones to the backend,
   whose batches are committed to the cache as they finish (kill-safe, resumable).
4. Score, fill the matrix, compute metrics with paired-bootstrap intervals, and write
   ``predictions/step-XX/<task>.jsonl`` and ``results.json`` atomically.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from benchmark import __version__
from benchmark.backends import (
    Backend,
    GenerationJob,
    ModelSpec,
    PromptItem,
    chat_template_sha256,
    get_backend,
    prompt_fingerprint,
)
from benchmark.backends.replay import ReplayBackend, predictions_path, write_predictions
from benchmark.cache import PredictionCache, prediction_key
from benchmark.checkpoints import content_hash, resolve_checkpoint
from benchmark.compat import check_libraries
from benchmark.errors import BenchmarkError
from benchmark.metrics import METRIC_DEFINITIONS_VERSION, bootstrap_metrics, probe_drops
from benchmark.paths import data_home, suite_data_dir
from benchmark.records import Record, read_records
from benchmark.scoring import aggregate, score
from benchmark.submission import (
    RESULTS_FILE,
    RESULTS_SCHEMA,
    Results,
    Submission,
    SubmissionError,
    load_submission,
)
from benchmark.suites import Suite, load_suite, prepare_suite, read_manifest, records_path

DEFAULT_N_BOOT = 1000


@dataclass
class Cell:
    step: int
    task: str
    records: list[Record]
    predictions: dict[str, str] = field(default_factory=dict)


@dataclass
class Plan:
    entry_dir: Path
    submission: Submission
    suite: Suite
    manifest: dict[str, Any]
    tasks: list[str]  # trained tasks, in order
    probes: list[str]
    steps: list[int]
    columns: list[str]  # the columns evaluated (tasks and probes, possibly filtered)
    cells: list[Cell]
    models: dict[int, ModelSpec]
    limit: int | None

    @property
    def n_items(self) -> int:
        return sum(len(cell.records) for cell in self.cells)


def _ensure_prepared(suite: Suite) -> dict[str, Any]:
    manifest_path = suite_data_dir(suite.id) / "manifest.json"
    offline = suite.source.repo_id is None and not suite.source.options.get("extra_repos")
    if offline and not _current(manifest_path, suite.version):
        print(f"preparing {suite.id} (built in, offline) …", file=sys.stderr)
        prepare_suite(suite)
    manifest = read_manifest(suite.id)
    if manifest.get("suite_version") != suite.version:
        raise BenchmarkError(
            f"prepared data of {suite.id} is version {manifest.get('suite_version')}, the suite "
            f"is version {suite.version}: run mllmcl-bench tasks prepare {suite.id}"
        )
    return manifest


def _current(manifest_path: Path, version: int) -> bool:
    """A prepared manifest of this harness's schema and the suite's version."""
    from benchmark.suites import MANIFEST_SCHEMA

    if not manifest_path.is_file():
        return False
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    return manifest.get("schema") == MANIFEST_SCHEMA and manifest.get("suite_version") == version


def _models(entry_dir: Path, submission: Submission, steps: Sequence[int]) -> dict[int, ModelSpec]:
    base = submission.base_model
    reference = base.path or (f"hf://{base.id}@{base.revision}" if base.revision else None)
    if reference is None:
        raise SubmissionError(
            "base_model: give a path (inside the entry or hf://…) or a pinned revision"
        )
    base_path = resolve_checkpoint(entry_dir, reference)
    models: dict[int, ModelSpec] = {}
    hashes: dict[Path, str] = {}

    def hashed(path: Path) -> str:
        if path not in hashes:
            hashes[path] = content_hash(path)
        return hashes[path]

    if 0 in steps:
        models[0] = ModelSpec(0, "base", base_path, base_path, hashed(base_path), "base")
    for checkpoint in submission.checkpoints:
        if checkpoint.step not in steps:
            continue
        path = resolve_checkpoint(entry_dir, checkpoint.path)
        digest = hashed(path)
        if checkpoint.sha256 is not None and checkpoint.sha256 != digest:
            raise SubmissionError(
                f"checkpoints[{checkpoint.step - 1}]: content hash {digest} does not match the "
                f"declared sha256 {checkpoint.sha256}"
            )
        kind = "lora" if checkpoint.kind == "lora" else "full"
        models[checkpoint.step] = ModelSpec(
            checkpoint.step, kind, path, base_path, digest, f"step {checkpoint.step}"
        )
    return models


def plan(
    entry_dir: Path,
    *,
    backend: str,
    limit: int | None = None,
    tasks: Sequence[str] | None = None,
    steps: Sequence[int] | None = None,
) -> Plan:
    """Everything to evaluate, before any model is loaded."""
    entry_dir = Path(entry_dir)
    submission = load_submission(entry_dir)
    suite = load_suite(submission.suite)
    if submission.suite_version != suite.version:
        raise SubmissionError(
            f"{entry_dir}: suite_version {submission.suite_version} but {suite.id} is version "
            f"{suite.version} (see the suite's changelog)"
        )
    order = suite.order(submission.order)
    if submission.checkpoints:
        if len(submission.checkpoints) != len(order):
            raise SubmissionError(
                f"{entry_dir}: {len(submission.checkpoints)} checkpoints for a "
                f"{len(order)}-task order ({', '.join(order)})"
            )
        for checkpoint, task in zip(submission.checkpoints, order, strict=True):
            if checkpoint.task != task:
                raise SubmissionError(
                    f"{entry_dir}: checkpoints[{checkpoint.step - 1}] is for task "
                    f"{checkpoint.task!r}, the order has {task!r} at step {checkpoint.step}"
                )
    if backend != "replay" and submission.predictions_only:
        raise SubmissionError(
            f"{entry_dir}: predictions_only entry: only --backend replay can score it"
        )
    manifest = _ensure_prepared(suite)
    all_columns = suite.columns(submission.order)
    columns = list(tasks) if tasks else all_columns
    unknown = [t for t in columns if t not in all_columns]
    if unknown:
        raise BenchmarkError(
            f"--tasks: unknown task(s) {', '.join(unknown)}; tasks: {', '.join(all_columns)}"
        )
    all_steps = list(range(len(order) + 1))
    step_list = sorted(set(steps)) if steps else all_steps
    bad = [s for s in step_list if s not in all_steps]
    if bad:
        raise BenchmarkError(f"--steps: no step(s) {bad}; steps are 0..{len(order)}")
    if limit is not None and limit < 1:
        raise BenchmarkError("--limit must be at least 1")
    records = {}
    for task in columns:
        items = read_records(records_path(suite.id, task))
        records[task] = items[:limit] if limit else items
    cells = [Cell(step, task, records[task]) for step in step_list for task in columns]
    models = {} if backend == "replay" else _models(entry_dir, submission, step_list)
    return Plan(
        entry_dir=entry_dir,
        submission=submission,
        suite=suite,
        manifest=manifest,
        tasks=order,
        probes=list(suite.probes),
        steps=step_list,
        columns=columns,
        cells=cells,
        models=models,
        limit=limit,
    )


def generation_config(suite: Suite, task: str, backend: str) -> dict[str, Any]:
    return {
        "backend": backend,
        "temperature": 0.0,
        "max_new_tokens": suite.task(task).max_new_tokens,
        "repetition_penalty": 1.0,
    }


def pending_jobs(
    plan_: Plan, backend_name: str, cache: PredictionCache | None
) -> tuple[list[GenerationJob], dict[str, list[tuple[Cell, str]]]]:
    """Fill cells from the cache; the jobs still to generate, and who wants each key."""
    data_dir = suite_data_dir(plan_.suite.id)
    jobs: list[GenerationJob] = []
    keyed: dict[str, list[tuple[Cell, str]]] = {}  # one key may serve several cells (joint)
    queued: set[str] = set()
    fingerprints: dict[Path, str] = {}
    for cell in plan_.cells:
        task = plan_.suite.task(cell.task)
        model = plan_.models.get(cell.step)
        if model is None:  # replay: the saved predictions are the source
            job_model = ModelSpec(cell.step, "base", Path("."), Path("."), "replay")
            items = [
                PromptItem(f"{cell.step}/{cell.task}/{r.uid}", r.uid, r.question, ())
                for r in cell.records
            ]
            jobs.append(GenerationJob(cell.step, cell.task, job_model, task.max_new_tokens, items))
            for item in items:
                keyed[item.key] = [(cell, item.uid)]
            continue
        if model.processor_path not in fingerprints:
            fingerprints[model.processor_path] = prompt_fingerprint(model.processor_path)
        config = generation_config(plan_.suite, cell.task, backend_name)
        items = []
        for record in cell.records:
            key = prediction_key(
                uid=record.uid,
                task_hash=plan_.manifest["task_hashes"][cell.task],
                checkpoint_hash=model.content_hash,
                generation=config,
                prompt_fingerprint=fingerprints[model.processor_path],
            )
            keyed.setdefault(key, []).append((cell, record.uid))
            items.append(
                PromptItem(
                    key,
                    record.uid,
                    record.question,
                    tuple(data_dir / image for image in record.images),
                )
            )
        cached = cache.get_many(item.key for item in items) if cache is not None else {}
        for key, prediction in cached.items():
            for owner, uid in keyed[key]:
                owner.predictions[uid] = prediction
        # The same checkpoint at several steps (a joint model) is generated once.
        missing = [item for item in items if item.key not in cached and item.key not in queued]
        queued.update(item.key for item in missing)
        if missing:
            jobs.append(GenerationJob(cell.step, cell.task, model, task.max_new_tokens, missing))
    return jobs, keyed


def _run_generation(
    plan_: Plan, runner: Backend, cache: PredictionCache | None, *, progress: bool
) -> int:
    """Fill every cell's predictions from the cache and the backend; return # generated."""
    jobs, keyed = pending_jobs(plan_, runner.name, cache)
    total = sum(len(job.items) for job in jobs)
    if not total:
        return 0
    overall = tqdm(
        total=total,
        desc="overall",
        unit=" item",
        file=sys.stderr,
        disable=not progress,
        position=0,
        dynamic_ncols=True,
    )
    bars: dict[tuple[int, str], tqdm] = {}

    def sink(job: GenerationJob, items: Sequence[PromptItem], texts: Sequence[str]) -> None:
        if len(items) != len(texts):
            raise BenchmarkError(
                f"backend {runner.name} returned {len(texts)} texts for {len(items)} prompts"
            )
        if cache is not None and job.model.content_hash != "replay":
            cache.put_many(
                (item.key, item.uid, text) for item, text in zip(items, texts, strict=True)
            )
        for item, text in zip(items, texts, strict=True):
            for owner, uid in keyed[item.key]:
                owner.predictions[uid] = text
        cell_key = (job.step, job.task)
        bar = bars.get(cell_key)
        if bar is None:
            for old in bars.values():
                old.close()
            bar = bars[cell_key] = tqdm(
                total=len(job.items),
                desc=f"step {job.step} {job.task}",
                unit=" item",
                file=sys.stderr,
                leave=False,
                disable=not progress,
                position=1,
                dynamic_ncols=True,
            )
        bar.update(len(items))
        overall.update(len(items))

    try:
        runner.run(jobs, sink)
    finally:
        for bar in bars.values():
            bar.close()
        overall.close()
    return total


def _cell_scores(cell: Cell) -> tuple[np.ndarray, Any]:
    scores = [score(r.scorer, cell.predictions[r.uid], r.answers, r.choices) for r in cell.records]
    return np.array([s.value for s in scores], dtype=float), aggregate(scores)


def _finite(value: float | None) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def score_plan(
    plan_: Plan, *, n_boot: int = DEFAULT_N_BOOT, seed: int = 0
) -> tuple[dict[str, Any], dict[tuple[int, str], list[tuple[str, str]]]]:
    """Score every cell; the results body (without provenance) and the prediction rows."""
    T = len(plan_.tasks)
    columns = [*plan_.tasks, *plan_.probes]
    matrix: list[list[float | None]] = [[None] * len(columns) for _ in range(T + 1)]
    per_item: dict[str, np.ndarray] = {}
    cells_out: list[dict[str, Any]] = []
    rows: dict[tuple[int, str], list[tuple[str, str]]] = {}
    for cell in plan_.cells:
        missing = [r.uid for r in cell.records if r.uid not in cell.predictions]
        if missing:
            raise BenchmarkError(
                f"step {cell.step} {cell.task}: {len(missing)} item(s) "
                f"without a prediction, e.g. {missing[0]}"
            )
        values, agg = _cell_scores(cell)
        column = columns.index(cell.task)
        matrix[cell.step][column] = _finite(float(agg.accuracy))
        if cell.task not in per_item:
            per_item[cell.task] = np.full((T + 1, len(cell.records)), np.nan)
        per_item[cell.task][cell.step] = values
        cell_rows = [(r.uid, cell.predictions[r.uid]) for r in cell.records]
        rows[(cell.step, cell.task)] = cell_rows
        cells_out.append(
            {
                "step": cell.step,
                "task": cell.task,
                "n": agg.n,
                "accuracy": _finite(float(agg.accuracy)),
                "parse_failures": agg.parse_failures,
                "predictions_sha256": _rows_sha256(cell_rows),
            }
        )
    trained = [per_item.get(task, np.full((T + 1, 1), np.nan)) for task in plan_.tasks]
    intervals = bootstrap_metrics(trained, base_row=True, n_boot=n_boot, seed=seed)
    metrics = {
        name: {
            "value": _finite(interval.value),
            "ci95": None
            if interval.ci95 is None
            else [float(interval.ci95[0]), float(interval.ci95[1])],
            "reason": getattr(interval, "reason", None),
        }
        for name, interval in intervals.items()
    }
    drops = []
    if plan_.probes:
        probe_matrix = np.array(
            [[np.nan if v is None else v for v in row[T:]] for row in matrix], dtype=float
        )
        for probe, drop in zip(plan_.probes, probe_drops(probe_matrix), strict=True):
            drops.append(
                {
                    "task": probe,
                    "series": [_finite(float(v)) for v in drop["series"]],
                    "drop": _finite(drop["drop"]),
                    "max_drop": _finite(drop["max_drop"]),
                }
            )
    body = {
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
        "bootstrap": {"replicates": n_boot, "seed": seed, "level": 0.95, "paired": True},
        "verified": plan_.submission.verified,
    }
    return body, rows


def _rows_sha256(rows: Sequence[tuple[str, str]]) -> str:
    import hashlib

    digest = hashlib.sha256()
    for uid, prediction in rows:
        digest.update(
            json.dumps({"uid": uid, "prediction": prediction}, ensure_ascii=False).encode("utf-8")
        )
        digest.update(b"\n")
    return digest.hexdigest()


def write_results(path: Path, results: dict[str, Any]) -> None:
    Results.model_validate(results)  # never write a results.json that fails its own schema
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _run_distributed(
    plan_: Plan,
    *,
    backend: str,
    cache_path: Path,
    workers: int,
    ray_address: str | None,
    gpus_per_unit: float | None,
    tensor_parallel: int,
    device: str,
    batch_size: int,
    limit: int | None,
    tasks: Sequence[str] | None,
    progress: bool,
) -> int:
    """Generate the pending items on worker processes or Ray; they land in the cache."""
    from benchmark import workers as pool

    with PredictionCache(cache_path) as cache:
        jobs, _ = pending_jobs(plan_, backend, cache)
    for cell in plan_.cells:  # refilled from the cache by the caller's generation pass
        cell.predictions.clear()
    common = {
        "entry_dir": plan_.entry_dir,
        "backend": backend,
        "cache_path": cache_path,
        "batch_size": batch_size,
        "limit": limit,
        "tasks": tasks,
        "progress": progress,
    }
    if ray_address is not None:
        from benchmark import ray_runner

        # one unit per checkpoint group: each loads its model once
        units = pool.plan_units(jobs, len({job.model.content_hash for job in jobs}))
        if not units:
            return 0
        if gpus_per_unit is None:
            gpus_per_unit = 0.0 if device == "cpu" or not _cuda() else float(tensor_parallel)
        results = ray_runner.run_ray(
            units,
            address=ray_address,
            device=device,
            gpus_per_unit=gpus_per_unit,
            cpus=workers if workers > 1 else None,
            **common,
        )
        if progress:
            print(ray_runner.summary(results), file=sys.stderr)
        return sum(len(r.rows) for r in results)
    units = pool.plan_units(jobs, workers)
    if len(units) < 2:
        return 0
    reports = pool.run_workers(units, **common)
    if progress:
        print(pool.summary(reports), file=sys.stderr)
    return sum(r.items for r in reports if r.exit_code == 0)


@dataclass
class EvaluationOutcome:
    results: dict[str, Any]
    generated: int
    written: Path | None


def evaluate_entry(
    entry_dir: Path,
    *,
    backend: str = "hf",
    limit: int | None = None,
    tasks: Sequence[str] | None = None,
    steps: Sequence[int] | None = None,
    batch_size: int = 8,
    device: str = "auto",
    cache_path: Path | None = None,
    out_dir: Path | None = None,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = 0,
    progress: bool = True,
    workers: int = 1,
    generate_only: bool = False,
    ray_address: str | None = None,
    gpus_per_unit: float | None = None,
    tensor_parallel: int = 1,
) -> EvaluationOutcome:
    """Evaluate an entry; write predictions and results.json (unless a partial grid).

    ``workers`` > 1 spreads the generation over that many processes (one per GPU) sharing
    the prediction cache; ``ray_address`` ("local" or a cluster address) schedules the
    same units as Ray tasks; ``generate_only`` fills the cache and stops (what a worker does).
    """
    started, clock = _now(), time.perf_counter()
    plan_ = plan(entry_dir, backend=backend, limit=limit, tasks=tasks, steps=steps)
    cache_path = cache_path or data_home() / "cache" / "predictions.sqlite"
    generated_by_workers = 0
    if backend != "replay":  # before any worker or model starts
        check_libraries(f"run the {backend} backend")
    if backend != "replay" and (ray_address is not None or workers > 1):
        generated_by_workers = _run_distributed(
            plan_,
            backend=backend,
            cache_path=cache_path,
            workers=workers,
            ray_address=ray_address,
            gpus_per_unit=gpus_per_unit,
            tensor_parallel=tensor_parallel,
            device=device,
            batch_size=batch_size,
            limit=limit,
            tasks=tasks,
            progress=progress,
        )
    if backend == "replay":
        runner: Backend = ReplayBackend(plan_.entry_dir)
        cache = None
    else:
        extra = {"tensor_parallel_size": tensor_parallel} if backend == "vllm" else {}
        runner = get_backend(backend, device=device, batch_size=batch_size, **extra)
        cache = PredictionCache(cache_path)
    try:
        generated = _run_generation(plan_, runner, cache, progress=progress)
        if backend == "replay":
            generated = 0  # re-scored saved predictions: nothing was generated
        generated += generated_by_workers
    finally:
        runner.close()
        if cache is not None:
            cache.close()
    if generate_only:
        return EvaluationOutcome(results={}, generated=generated, written=None)
    body, rows = score_plan(plan_, n_boot=n_boot, seed=seed)
    base = plan_.models.get(0)
    body["provenance"] = {
        "harness": __version__,
        "backend": runner.name,
        "versions": {"python": sys.version.split()[0], **runner.library_versions()},
        "generation": {
            "temperature": 0.0,
            "repetition_penalty": 1.0,
            "max_new_tokens": {t: plan_.suite.task(t).max_new_tokens for t in plan_.columns},
        },
        "chat_template_sha256": chat_template_sha256(base.processor_path) if base else None,
        "checkpoints": [
            {"step": m.step, "kind": m.kind, "content_sha256": m.content_hash}
            for m in sorted(plan_.models.values(), key=lambda m: m.step)
        ],
        "limit": limit,
        "started": started,
        "finished": _now(),
        "wall_seconds": round(time.perf_counter() - clock, 3),
        "generated": generated,
    }
    complete = (
        limit is None
        and plan_.steps == list(range(len(plan_.tasks) + 1))
        and plan_.columns == [*plan_.tasks, *plan_.probes]
    )
    target = out_dir or (plan_.entry_dir if complete else None)
    if target is not None:
        if backend != "replay" or target != plan_.entry_dir:
            for (step, task), cell_rows in rows.items():
                write_predictions(predictions_path(target, step, task), cell_rows)
        write_results(target / RESULTS_FILE, body)
    return EvaluationOutcome(
        results=body, generated=generated, written=None if target is None else target / RESULTS_FILE
    )


def _fmt(value: float | None, width: int = 6) -> str:
    return "—".rjust(width) if value is None else f"{value:{width}.1f}"


def summary_text(results: dict[str, Any]) -> str:
    """The accuracy matrix and the metrics with intervals, for the terminal."""
    columns = [*results["tasks"], *results["probes"]]
    width = max(6, *(len(c) for c in columns))
    lines = ["accuracy matrix (rows: model after step i; step 0 = base model)"]
    lines.append("step  " + " ".join(c.rjust(width) for c in columns))
    for step, row in enumerate(results["matrix"]):
        lines.append(f"{step:>4}  " + " ".join(_fmt(v, width) for v in row))
    lines.append("")
    lines.append("metric           value   95% interval")
    for name, metric in results["metrics"].items():
        ci = metric.get("ci95")
        interval = f"[{ci[0]:.1f}, {ci[1]:.1f}]" if ci else (metric.get("reason") or "")
        lines.append(f"{name:<15} {_fmt(metric['value'], 6)}   {interval}")
    for probe in results.get("probe_drops", []):
        lines.append(
            f"probe {probe['task']}: drop {_fmt(probe['drop'])} (max {_fmt(probe['max_drop'])})"
        )
    failures = sum(c["parse_failures"] for c in results["cells"])
    items = sum(c["n"] for c in results["cells"])
    lines.append(f"\n{items} predictions scored, {failures} could not be parsed")
    return "\n".join(lines)
