"""`evaluate --ray` on a local two-CPU Ray cluster: identical results to the single-process
run, also when a Ray worker is killed in the middle of a unit."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from tinyworld import make_entry, predictions, stable

from benchmark.evaluation.ray_units import UNIT_LOG_ENV
from benchmark.evaluation.run import evaluate_entry

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ray_cluster():
    import ray

    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"OMP_NUM_THREADS": "1"}},
    )
    yield ray
    ray.shutdown()


@pytest.fixture
def reference(env, tmp_path: Path) -> Path:
    entry = make_entry(tmp_path, env, "single")
    evaluate_entry(entry, cache_path=tmp_path / "single.sqlite", progress=False, n_boot=100)
    return entry


def test_ray_gives_the_single_process_results(env, ray_cluster, reference, tmp_path) -> None:
    entry = make_entry(tmp_path, env, "ray")
    outcome = evaluate_entry(
        entry,
        cache_path=tmp_path / "ray.sqlite",
        progress=False,
        n_boot=100,
        ray_address="local",
        device="cpu",
    )
    assert outcome.generated == 120
    assert predictions(entry) == predictions(reference)
    assert stable(json.loads((entry / "results.json").read_text())) == stable(
        json.loads((reference / "results.json").read_text())
    )


def test_killed_worker_has_its_unit_retried(
    env, ray_cluster, reference, tmp_path, monkeypatch
) -> None:
    log_dir = tmp_path / "units"
    log_dir.mkdir()
    monkeypatch.setenv(UNIT_LOG_ENV, str(log_dir))
    killed: list[int] = []

    def kill_one_mid_unit() -> None:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and not killed:
            for log in log_dir.glob("unit-*.txt"):
                try:  # the unit may be writing it right now (not atomic): look again later
                    pid, scratch = log.read_text().split()
                except ValueError:
                    continue
                try:
                    with sqlite3.connect(f"file:{scratch}?mode=ro", uri=True) as db:
                        rows = db.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]
                except sqlite3.Error:
                    continue
                if rows > 0:  # the unit has started generating: kill its worker now
                    os.kill(int(pid), signal.SIGKILL)
                    killed.append(int(pid))
                    return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_one_mid_unit)
    killer.start()
    entry = make_entry(tmp_path, env, "ray-killed")
    # lora steps at batch size 1 make each unit long enough to be caught mid-way
    outcome = evaluate_entry(
        entry,
        cache_path=tmp_path / "killed.sqlite",
        progress=False,
        n_boot=100,
        ray_address="local",
        device="cpu",
        batch_size=1,
    )
    killer.join()
    assert killed, "no unit was caught in the middle of its work"
    started = [p.read_text().split()[0] for p in log_dir.glob("unit-*.txt")]
    assert len(started) > 4  # 4 units, one of them started twice
    assert outcome.generated >= 120
    assert predictions(entry) == predictions(reference)
    assert stable(json.loads((entry / "results.json").read_text())) == stable(
        json.loads((reference / "results.json").read_text())
    )
