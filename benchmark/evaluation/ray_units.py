"""``evaluate --ray [ADDRESS]``: the evaluator's work units as Ray tasks (``pip install
mllmcl-bench[ray]``).

A unit is a group of steps served by one checkpoint (a LoRA sequence's base is loaded once
per unit). Each unit runs as a Ray task asking for the GPUs its backend needs; it generates
into a private scratch cache and returns the rows, which the driver writes into the shared
prediction cache as each unit finishes — so a lost driver loses at most the running units,
and a worker that dies has its unit retried elsewhere by Ray (``max_retries``). The driver
then scores from the cache exactly as a single-process run does: the same
``results.json``.

Every node must see the entry folder, ``$MLLMCL_BENCH_HOME`` (prepared suites) and the
checkpoints at the same paths (a shared file system), and have this package installed.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from benchmark.errors import BenchmarkError
from benchmark.evaluation.workers import WorkUnit
from benchmark.generation.cache import PredictionCache
from benchmark.paths import HOME_ENV, TASKS_ENV

UNIT_LOG_ENV = "MLLMCL_BENCH_UNIT_LOG"  # a folder: each unit writes "<pid> <scratch cache>"
MAX_RETRIES = 3


@dataclass
class UnitResult:
    steps: list[int]
    rows: list[tuple[str, str, str]]
    seconds: float
    worker: str


def generate_unit(
    entry_dir: str,
    backend: str,
    steps: list[int],
    batch_size: int,
    limit: int | None,
    tasks: list[str] | None,
    device: str,
    tensor_parallel: int = 1,
    allow_mixed_backends: bool = False,
    trust_remote_code: bool = False,
) -> UnitResult:
    """Runs inside a Ray worker: generate one unit into a scratch cache; return its rows."""
    import socket
    import sqlite3
    import tempfile

    from benchmark.evaluation.generate import generate_into_cache

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mllmcl-unit-") as scratch:
        cache_path = Path(scratch) / "unit.sqlite"
        log_dir = os.environ.get(UNIT_LOG_ENV)
        if log_dir:
            name = f"unit-{'-'.join(map(str, steps))}-{os.getpid()}.txt"
            (Path(log_dir) / name).write_text(f"{os.getpid()} {cache_path}\n")
        generate_into_cache(
            Path(entry_dir),
            backend=backend,
            cache_path=cache_path,
            steps=steps,
            tasks=tasks,
            limit=limit,
            device=device,
            batch_size=batch_size,
            tensor_parallel=tensor_parallel,
            allow_mixed_backends=allow_mixed_backends,
            trust_remote_code=trust_remote_code,
        )
        with sqlite3.connect(cache_path) as db:
            rows = [tuple(r) for r in db.execute("SELECT key, uid, prediction FROM predictions")]
    return UnitResult(
        steps,
        rows,
        time.perf_counter() - started,  # type: ignore[arg-type]
        f"{socket.gethostname()}:{os.getpid()}",
    )


def run_ray(
    units: Sequence[WorkUnit],
    *,
    address: str | None,
    entry_dir: Path,
    backend: str,
    cache_path: Path,
    batch_size: int,
    limit: int | None,
    tasks: Sequence[str] | None,
    device: str,
    gpus_per_unit: float,
    cpus: int | None = None,
    progress: bool = True,
    tensor_parallel: int = 1,
    allow_mixed_backends: bool = False,
    trust_remote_code: bool = False,
) -> list[UnitResult]:
    """Schedule the units on Ray; stream each finished unit into the prediction cache."""
    try:
        import ray
    except ImportError:
        raise BenchmarkError("--ray needs Ray: pip install 'mllmcl-bench[ray]'") from None
    env = {
        name: os.environ[name]
        for name in (HOME_ENV, TASKS_ENV, UNIT_LOG_ENV, "HF_HOME")
        if name in os.environ
    }
    if gpus_per_unit == 0:
        env["OMP_NUM_THREADS"] = "1"
    started_here = not ray.is_initialized()
    if started_here:
        options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if address in (None, "local"):
            options["num_cpus"] = cpus or os.cpu_count()
        else:
            options["address"] = address
        ray.init(**options)
    remote = ray.remote(generate_unit).options(
        num_cpus=1,
        num_gpus=gpus_per_unit,
        max_retries=MAX_RETRIES,
        retry_exceptions=False,
        runtime_env={"env_vars": env},
    )
    futures = {
        remote.remote(
            str(entry_dir.resolve()),
            backend,
            list(u.steps),
            batch_size,
            limit,
            list(tasks) if tasks else None,
            device,
            tensor_parallel,
            allow_mixed_backends,
            trust_remote_code,
        ): u
        for u in units
    }
    total = sum(u.items for u in units)
    bar = tqdm(
        total=total,
        desc=f"ray: {len(units)} units",
        unit=" item",
        file=sys.stderr,
        disable=not progress,
        dynamic_ncols=True,
    )
    results: list[UnitResult] = []
    try:
        with PredictionCache(cache_path) as cache:
            pending = list(futures)
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                result: UnitResult = ray.get(done[0])
                cache.put_many(result.rows)
                results.append(result)
                bar.update(futures[done[0]].items)
    finally:
        bar.close()
        if started_here:
            ray.shutdown()
    return results


def summary(results: Sequence[UnitResult]) -> str:
    lines = ["unit steps    items  seconds  worker"]
    for r in sorted(results, key=lambda r: r.steps):
        steps = ",".join(map(str, r.steps))
        lines.append(f"{steps:<14} {len(r.rows):>6}  {r.seconds:7.1f}  {r.worker}")
    return "\n".join(lines)
