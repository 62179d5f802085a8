"""Filling the grid's predictions: the prediction cache first, then a backend for what is
missing."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from tqdm import tqdm

from benchmark.errors import BenchmarkError
from benchmark.evaluation.plan import Cell, Plan, plan
from benchmark.generation import Backend, get_backend
from benchmark.generation.base import (
    GenerationJob,
    PromptItem,
    prompt_fingerprint,
)
from benchmark.generation.cache import PredictionCache, prediction_key
from benchmark.paths import suite_data_dir
from benchmark.suites.registry import Suite

# The libraries whose versions decide what a backend generates: part of the cache key, so
# an upgrade (a new vLLM kernel, a peft that loads adapters differently) regenerates rather
# than mixing old and new predictions in one matrix.
BACKEND_LIBRARIES = {
    "hf": ("torch", "transformers", "peft"),
    "vllm": ("vllm", "torch", "transformers"),
}


@lru_cache(maxsize=8)
def library_versions(backend: str) -> dict[str, str]:
    """Installed versions of ``backend``'s libraries, read from metadata (nothing imported)."""
    from importlib import metadata

    versions = {}
    for name in BACKEND_LIBRARIES.get(backend, ()):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def generation_config(suite: Suite, task: str, backend: str) -> dict[str, Any]:
    return {
        "backend": backend,
        "libraries": dict(library_versions(backend)),
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
        model = plan_.models[cell.step]
        if model.processor_path not in fingerprints:
            fingerprints[model.processor_path] = prompt_fingerprint(model.processor_path)
        # the backend that actually generates this step is part of the cache key
        generator = plan_.backends.get(cell.step, backend_name)
        config = generation_config(plan_.suite, cell.task, generator)
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
            jobs.append(
                GenerationJob(
                    cell.step, cell.task, model, task.max_new_tokens, missing, backend=generator
                )
            )
    return jobs, keyed


def _refill(
    jobs: list[GenerationJob],
    cache: PredictionCache,
    keyed: dict[str, list[tuple[Cell, str]]],
) -> list[GenerationJob]:
    """``jobs`` less the items another run has put in the cache since (their cells filled)."""
    found = cache.get_many(item.key for job in jobs for item in job.items)
    for key, prediction in found.items():
        for owner, uid in keyed[key]:
            owner.predictions[uid] = prediction
    left = [replace(job, items=[i for i in job.items if i.key not in found]) for job in jobs]
    return [job for job in left if job.items]


def run_generation(
    plan_: Plan, runner: Backend, cache: PredictionCache | None, *, progress: bool
) -> int:
    """Fill every cell's predictions from the cache and the backend; return # generated.

    Runs sharing the cache share the work: a checkpoint's items are generated only under
    its lock (``PredictionCache.claim``). The checkpoints no other run holds are generated
    first; then this run waits for each one another run holds and reads what that run
    generated from the cache (generating only what it left, if it died).
    """
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

    generated = 0
    unfinished: dict[str, int] = {}  # checkpoint held by this run -> items still to generate

    def sink(job: GenerationJob, items: Sequence[PromptItem], texts: Sequence[str]) -> None:
        nonlocal generated
        if len(items) != len(texts):
            raise BenchmarkError(
                f"backend {runner.name} returned {len(texts)} texts for {len(items)} prompts"
            )
        if cache is not None:
            cache.put_many(
                (item.key, item.uid, text) for item, text in zip(items, texts, strict=True)
            )
            digest = job.model.content_hash
            unfinished[digest] = unfinished.get(digest, 0) - len(items)
            if unfinished[digest] <= 0:  # its items are all cached: let waiting runs read them
                cache.release(digest)
        generated += len(items)
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
        if cache is None:
            runner.run(jobs, sink)
        while cache is not None and jobs:
            held = [cache.claim(job.model.content_hash) for job in jobs]
            if not any(held):  # another run is generating every checkpoint left: wait
                if progress:
                    tqdm.write(
                        f"waiting for another run to generate step {jobs[0].step} into "
                        f"{cache.path}",
                        file=sys.stderr,
                    )
                cache.claim(jobs[0].model.content_hash, wait=True)
                continue
            mine = [job for job, h in zip(jobs, held, strict=True) if h]
            jobs = [job for job, h in zip(jobs, held, strict=True) if not h]
            todo = _refill(mine, cache, keyed)  # less what a run that held the lock generated
            overall.update(sum(len(j.items) for j in mine) - sum(len(j.items) for j in todo))
            unfinished.clear()
            for job in todo:
                digest = job.model.content_hash
                unfinished[digest] = unfinished.get(digest, 0) + len(job.items)
            try:
                if todo:
                    runner.run(todo, sink)
            finally:
                for job in mine:
                    cache.release(job.model.content_hash)
    finally:
        for bar in bars.values():
            bar.close()
        overall.close()
    return generated


@dataclass
class Generated:
    count: int  # predictions generated (not found in the cache)
    versions: dict[str, str]  # the backend's library versions, for provenance


def generate_plan(
    plan_: Plan,
    *,
    backend: str,
    cache_path: Path,
    device: str = "auto",
    batch_size: int = 8,
    tensor_parallel: int = 1,
    progress: bool = True,
) -> Generated:
    """Fill the plan's cells from the cache and ``backend``; new predictions enter the cache."""
    extra: dict[str, object] = (
        {"tensor_parallel_size": tensor_parallel} if backend == "vllm" else {}
    )
    if plan_.trust_remote_code:
        extra["trust_remote_code"] = True
    runner = get_backend(backend, device=device, batch_size=batch_size, **extra)
    cache = PredictionCache(cache_path)
    try:
        count = run_generation(plan_, runner, cache, progress=progress)
    finally:
        runner.close()
        cache.close()
    return Generated(count, runner.library_versions())


def generate_into_cache(
    entry_dir: Path,
    *,
    backend: str,
    cache_path: Path,
    steps: Sequence[int] | None = None,
    tasks: Sequence[str] | None = None,
    limit: int | None = None,
    device: str = "auto",
    batch_size: int = 8,
    tensor_parallel: int = 1,
    progress: bool = False,
    allow_mixed_backends: bool = False,
    trust_remote_code: bool = False,
) -> int:
    """Generate what the cache lacks for some steps of an entry (a worker's or a unit's job)."""
    plan_ = plan(
        entry_dir,
        backend=backend,
        limit=limit,
        tasks=tasks,
        steps=steps,
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
    return done.count
