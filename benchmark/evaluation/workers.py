"""``evaluate --workers N``: several worker processes on one machine, one per GPU.

The unit of work is a group of steps (every task of those steps): a worker loads its base
model once and serves every adapter it is given, the layout vLLM recommends for data
parallelism (one engine per process, ``CUDA_VISIBLE_DEVICES`` picking its GPU). Steps
that share a checkpoint (a joint model) go to the same worker. Workers write into the
shared prediction cache; the parent then finds every prediction cached, generates any
leftovers itself (a worker that died is not fatal), scores, and writes ``results.json`` —
identical to a single-process run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from benchmark.generation.base import GenerationJob


@dataclass
class WorkUnit:
    steps: list[int]
    items: int


@dataclass
class WorkerReport:
    worker: int
    steps: list[int]
    items: int
    seconds: float
    exit_code: int


def plan_units(jobs: Sequence[GenerationJob], workers: int) -> list[WorkUnit]:
    """Split the pending jobs into at most ``workers`` step groups of similar size."""
    by_checkpoint: dict[str, list[int]] = {}
    sizes: dict[str, int] = {}
    for job in jobs:
        steps = by_checkpoint.setdefault(job.model.content_hash, [])
        if job.step not in steps:
            steps.append(job.step)
        sizes[job.model.content_hash] = sizes.get(job.model.content_hash, 0) + len(job.items)
    units = [WorkUnit([], 0) for _ in range(max(1, workers))]
    # largest checkpoint groups first, each to the least loaded worker
    for digest in sorted(by_checkpoint, key=lambda d: (-sizes[d], min(by_checkpoint[d]))):
        target = min(units, key=lambda u: (u.items, len(u.steps)))
        target.steps.extend(by_checkpoint[digest])
        target.items += sizes[digest]
    return [WorkUnit(sorted(u.steps), u.items) for u in units if u.steps]


def _gpu_count() -> int:
    try:
        import torch

        return torch.cuda.device_count()
    except ImportError:  # pragma: no cover
        return 0


def _cache_rows(cache_path: Path) -> int:
    import sqlite3

    try:
        with sqlite3.connect(cache_path, timeout=5) as db:
            return int(db.execute("SELECT COUNT(*) FROM predictions").fetchone()[0])
    except sqlite3.Error:
        return 0


def run_workers(
    units: Sequence[WorkUnit],
    *,
    entry_dir: Path,
    backend: str,
    cache_path: Path,
    batch_size: int,
    limit: int | None,
    tasks: Sequence[str] | None,
    progress: bool,
    tensor_parallel: int = 1,
    allow_mixed_backends: bool = False,
    trust_remote_code: bool = False,
) -> list[WorkerReport]:
    """Run one worker process (this module's ``main``) per unit; wait for all of them."""
    gpus = _gpu_count()
    threads = max(1, (os.cpu_count() or 1) // max(1, len(units)))
    start_rows = _cache_rows(cache_path)  # before any worker can write
    processes = []
    logs = []
    for index, unit in enumerate(units):
        command = [
            sys.executable, "-m", "benchmark.evaluation.workers",
            "--entry", str(entry_dir), "--backend", backend,
            "--steps", ",".join(str(s) for s in unit.steps),
            "--cache", str(cache_path), "--batch-size", str(batch_size),
            "--tensor-parallel", str(tensor_parallel),
        ]  # fmt: skip
        if limit is not None:
            command += ["--limit", str(limit)]
        if tasks:
            command += ["--tasks", ",".join(tasks)]
        if allow_mixed_backends:
            command.append("--allow-mixed-backends")
        if trust_remote_code:
            command.append("--trust-remote-code")
        env = dict(os.environ)
        if gpus:  # each worker gets its own tensor_parallel GPUs
            first = (index * tensor_parallel) % gpus
            env["CUDA_VISIBLE_DEVICES"] = ",".join(
                str((first + k) % gpus) for k in range(tensor_parallel)
            )
        else:
            env["OMP_NUM_THREADS"] = str(threads)
            command += ["--device", "cpu"]
        # a file, not a pipe: a full pipe would block the worker
        log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed after the wait
        logs.append(log)
        processes.append(
            (
                index,
                unit,
                time.perf_counter(),
                subprocess.Popen(
                    command, env=env, stdout=subprocess.DEVNULL, stderr=log, text=True
                ),
            )
        )
    total = sum(u.items for u in units)
    bar = tqdm(
        total=total,
        desc=f"{len(units)} workers",
        unit=" item",
        file=sys.stderr,
        disable=not progress,
        dynamic_ncols=True,
    )
    reports: dict[int, WorkerReport] = {}
    while len(reports) < len(processes):
        for index, unit, started, process in processes:
            if index not in reports and process.poll() is not None:
                reports[index] = WorkerReport(
                    index, unit.steps, unit.items, time.perf_counter() - started, process.returncode
                )
                if process.returncode != 0:
                    logs[index].seek(0)
                    error = logs[index].read().strip()
                    tail = error.splitlines()[-1] if error else "no message"
                    print(
                        f"worker {index} (steps {unit.steps}) exited with "
                        f"{process.returncode}: {tail}; its remaining items are generated "
                        "here",
                        file=sys.stderr,
                    )
        bar.n = min(total, _cache_rows(cache_path) - start_rows)
        bar.refresh()
        time.sleep(0.2)
    bar.close()
    for log in logs:
        log.close()
    return [reports[i] for i in sorted(reports)]


def summary(reports: Sequence[WorkerReport]) -> str:
    lines = ["worker  steps        items  seconds  items/s  status"]
    for r in reports:
        rate = r.items / r.seconds if r.seconds else 0.0
        status = "ok" if r.exit_code == 0 else f"exit {r.exit_code}"
        steps = ",".join(str(s) for s in r.steps)
        lines.append(
            f"{r.worker:>6}  {steps:<11} {r.items:>6}  {r.seconds:7.1f}  {rate:7.1f}  {status}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """A worker: generate one unit's steps into the shared cache (``python -m`` this module).

    Started by :func:`run_workers`; a problem with the input is one line on stderr and exit
    status 2 (the parent reports it and generates the unit's items itself).
    """
    import argparse

    from benchmark.errors import BenchmarkError
    from benchmark.evaluation.generate import generate_into_cache

    parser = argparse.ArgumentParser(prog="python -m benchmark.evaluation.workers")
    parser.add_argument("--entry", type=Path, required=True)
    parser.add_argument("--backend", required=True)
    parser.add_argument("--steps", required=True, help="comma-separated step numbers")
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--tensor-parallel", type=int, default=1)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--tasks", help="comma-separated task ids")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--allow-mixed-backends", action="store_true")
    parser.add_argument("--trust-remote-code", action="store_true")
    args = parser.parse_args(argv)
    try:
        generate_into_cache(
            args.entry,
            backend=args.backend,
            cache_path=args.cache,
            steps=[int(s) for s in args.steps.split(",")],
            tasks=args.tasks.split(",") if args.tasks else None,
            limit=args.limit,
            device=args.device,
            batch_size=args.batch_size,
            tensor_parallel=args.tensor_parallel,
            allow_mixed_backends=args.allow_mixed_backends,
            trust_remote_code=args.trust_remote_code,
        )
    except (BenchmarkError, ValueError, FileNotFoundError) as exc:
        print(f"worker: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover - run as a subprocess
    sys.exit(main())
