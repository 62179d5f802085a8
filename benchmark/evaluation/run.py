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

import contextlib
import json
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from benchmark import __version__
from benchmark._files import write_text_atomic
from benchmark.entry.predictions import predictions_path, write_predictions
from benchmark.entry.results import Provenance, Results
from benchmark.entry.submission import RESULTS_FILE
from benchmark.errors import BenchmarkError
from benchmark.evaluation.generate import generate_plan, pending_jobs
from benchmark.evaluation.grid import DEFAULT_N_BOOT, score_plan
from benchmark.evaluation.plan import Plan, plan
from benchmark.evaluation.rescore import REPLAY, fill_from_saved
from benchmark.generation.base import (
    chat_template_sha256,
)
from benchmark.generation.cache import PredictionCache
from benchmark.generation.checkpoints import count_parameters
from benchmark.generation.compat import check_libraries
from benchmark.paths import data_home

# What every backend does whatever a checkpoint's generation_config.json says.
EFFECTIVE_GENERATION = {
    "decoding": "greedy",
    "temperature": 0.0,
    "num_beams": 1,
    "repetition_penalty": 1.0,
    "checkpoint_generation_config": "ignored except its eos/bos/pad token ids",
}


def write_results(path: Path, results: Results) -> None:
    """results.json, atomically (the model was validated when it was built)."""
    data = results.model_dump(mode="json", by_alias=True)
    write_text_atomic(path, json.dumps(data, indent=1, ensure_ascii=False) + "\n")


def write_outputs(
    target: Path, rows: Mapping[tuple[int, str], Sequence[tuple[str, str]]], results: Results
) -> None:
    """``predictions/step-XX/<task>.jsonl`` for ``rows``, then results.json, under ``target``.

    Each file is staged as ``<name>.partial`` and renamed; a write that fails (a full disk)
    removes its ``.partial`` file and is one line naming the file.
    """
    path = target / RESULTS_FILE
    try:
        for (step, task), cell_rows in rows.items():
            path = predictions_path(target, step, task)
            write_predictions(path, cell_rows)
        path = target / RESULTS_FILE
        write_results(path, results)
    except OSError as exc:
        with contextlib.suppress(OSError):
            path.with_name(path.name + ".partial").unlink(missing_ok=True)
        raise BenchmarkError(
            f"cannot write {path}: {exc.strerror or exc}; free some space (or make the folder "
            "writable) and run again: the predictions are cached, nothing is generated twice"
        ) from None


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
    allow_mixed_backends: bool = False,
    trust_remote_code: bool = False,
) -> int:
    """Generate the pending items on worker processes or Ray; they land in the cache."""
    from benchmark.evaluation import workers as pool

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
        "allow_mixed_backends": allow_mixed_backends,
        "trust_remote_code": trust_remote_code,
    }
    if ray_address is not None:
        from benchmark.evaluation import ray_units as ray_runner

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
    results: Results | None  # None when only generating (``generate_only``)
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
    allow_mixed_backends: bool = False,
    trust_remote_code: bool = False,
) -> EvaluationOutcome:
    """Evaluate an entry; write predictions and results.json (unless a partial grid).

    ``backend="replay"`` re-scores the entry's saved predictions (:mod:`.rescore`) instead
    of generating. ``workers`` > 1 spreads the generation over that many processes (one per
    GPU) sharing the prediction cache; ``ray_address`` ("local" or a cluster address)
    schedules the same units as Ray tasks; ``generate_only`` fills the cache and stops.
    A matrix comes from one backend; ``allow_mixed_backends`` lets vLLM hand the steps it
    cannot serve to hf (recorded per step in the provenance).
    """
    started, clock = _now(), time.perf_counter()
    plan_ = plan(
        entry_dir,
        backend=backend,
        limit=limit,
        tasks=tasks,
        steps=steps,
        allow_mixed_backends=allow_mixed_backends,
        trust_remote_code=trust_remote_code,
    )
    cache_path = cache_path or data_home() / "cache" / "predictions.sqlite"
    if backend == REPLAY:
        fill_from_saved(plan_)
        generated, versions = 0, {}
    else:
        by_workers = 0
        if ray_address is not None or workers > 1:
            # before any worker starts (a single process checks in get_backend)
            check_libraries(f"run the {backend} backend")
            by_workers = _run_distributed(
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
                allow_mixed_backends=allow_mixed_backends,
                trust_remote_code=trust_remote_code,
            )
        done = generate_plan(
            plan_,
            backend=backend,
            cache_path=cache_path,
            device=device,
            batch_size=batch_size,
            tensor_parallel=tensor_parallel,
            progress=progress,
        )
        generated, versions = done.count + by_workers, done.versions
    if generate_only:
        return EvaluationOutcome(results=None, generated=generated, written=None)
    grid = score_plan(plan_, n_boot=n_boot, seed=seed)
    base = plan_.models.get(0)
    results = grid.results(
        Provenance(
            harness=__version__,
            backend=backend,
            versions={"python": sys.version.split()[0], **versions},
            trust_remote_code=plan_.trust_remote_code,
            step_backends=(
                {str(step): name for step, name in sorted(plan_.backends.items())}
                if plan_.mixed_backends
                else None
            ),
            generation=EFFECTIVE_GENERATION
            | {"max_new_tokens": {t: plan_.suite.task(t).max_new_tokens for t in plan_.columns}},
            chat_template_sha256=chat_template_sha256(base.processor_path) if base else None,
            checkpoints=[
                {"step": m.step, "kind": m.kind, "content_sha256": m.content_hash}
                for m in sorted(plan_.models.values(), key=lambda m: m.step)
            ],
            limit=limit,
            started=started,
            finished=_now(),
            wall_seconds=round(time.perf_counter() - clock, 3),
            generated=generated,
            base_parameters=count_parameters(base.base_path) if base else None,
        )
    )
    complete = (
        limit is None
        and plan_.steps == list(range(len(plan_.tasks) + 1))
        and plan_.columns == [*plan_.tasks, *plan_.probes]
    )
    target = out_dir or (plan_.entry_dir if complete else None)
    if target is not None:
        keep_saved = backend == REPLAY and target == plan_.entry_dir
        write_outputs(target, {} if keep_saved else grid.rows, results)
    return EvaluationOutcome(
        results=results,
        generated=generated,
        written=None if target is None else target / RESULTS_FILE,
    )
