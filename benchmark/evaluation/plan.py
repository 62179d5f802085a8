"""The plan of an evaluation: the full grid of (step, task) cells and the models, before any
model is loaded."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.entry.submission import Submission, SubmissionError, load_submission
from benchmark.errors import BenchmarkError
from benchmark.generation import assign_backends
from benchmark.generation.adapters import check_models
from benchmark.generation.base import ModelSpec
from benchmark.generation.checkpoints import content_hash, resolve_checkpoint
from benchmark.scoring.caption import CELL_SCORERS, CaptionMetricsUnavailable
from benchmark.scoring.caption import check_available as check_captions_available
from benchmark.suites.prepare import ensure_prepared, records_path
from benchmark.suites.records import Record, read_records
from benchmark.suites.registry import Suite, load_suite


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
    # step → the backend that generates it: one for the whole matrix unless mixing was
    # explicitly allowed (then recorded per step in results.json)
    backends: dict[int, str] = field(default_factory=dict)
    trust_remote_code: bool = False

    @property
    def mixed_backends(self) -> bool:
        return len(set(self.backends.values())) > 1

    @property
    def n_items(self) -> int:
        return sum(len(cell.records) for cell in self.cells)


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


def require_pinned_base(submission: Submission) -> None:
    """Remote code runs only from a base pinned to a hub commit (the code is that commit's)."""
    base = submission.base_model
    pinned = (base.path or "").startswith("hf://") or (base.path is None and base.revision)
    if not pinned:
        raise SubmissionError(
            "--trust-remote-code runs the base model's own code: pin the base to a hub "
            "commit (base_model.revision, or base_model.path hf://org/repo@<sha>), so the code "
            "that runs is the code of that commit"
        )


def plan(
    entry_dir: Path,
    *,
    backend: str,
    limit: int | None = None,
    tasks: Sequence[str] | None = None,
    steps: Sequence[int] | None = None,
    allow_mixed_backends: bool = False,
    trust_remote_code: bool = False,
) -> Plan:
    """Everything to evaluate, before any model is loaded.

    Every checkpoint is checked against its base here (:func:`check_models`), so an adapter
    that would silently change nothing, or a checkpoint in a layout that needs converting,
    stops the run before any generation, whichever backend and however distributed.
    """
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
    if trust_remote_code and backend != "replay":
        require_pinned_base(submission)
    manifest = ensure_prepared(suite)
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
    if any(r.scorer in CELL_SCORERS for items in records.values() for r in items):
        try:  # before any generation: a run must not end at scoring for want of java
            check_captions_available()
        except CaptionMetricsUnavailable as exc:
            raise BenchmarkError(str(exc)) from None
    cells = [Cell(step, task, records[task]) for step in step_list for task in columns]
    models = {} if backend == "replay" else _models(entry_dir, submission, step_list)
    backends: dict[int, str] = {}
    if models:
        check_models(models, trust_remote_code=trust_remote_code)
        backends = assign_backends(
            models,
            backend,
            allow_mixed=allow_mixed_backends,
            trust_remote_code=trust_remote_code,
        )
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
        backends=backends,
        trust_remote_code=trust_remote_code,
    )
