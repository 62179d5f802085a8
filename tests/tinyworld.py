"""A tiny world for evaluator tests: a small suite, a tiny LLaVA-shaped model, three LoRA
adapters, and entries built from them (fixtures `world` and `env` live in conftest.py)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from benchmark.paths import HOME_ENV, TASKS_ENV

TASKS = ["a", "b", "c"]


def suite_yaml(
    suite_id: str, kinds: dict[str, str], *, test_size: int, seed: int, max_new_tokens: int = 5
) -> str:
    """A small `shapes`-backed suite: task id → shapes task kind, in training order."""
    tasks = "".join(
        f"  {t}: {{name: {t.upper()}, scorer: exact_match, max_new_tokens: {max_new_tokens}, "
        f"options: {{kind: {kind}}}}}\n"
        for t, kind in kinds.items()
    )
    return (
        f"id: {suite_id}\nversion: 1\ntitle: {suite_id}\n"
        "changelog: [{version: 1, date: 2026-11-01, change: first}]\n"
        f"source: {{module: shapes, options: {{seed: {seed}, image_size: 28, "
        f"sizes: {{test: {test_size}}}}}}}\n"
        f"orders: {{default: [{', '.join(kinds)}]}}\ntasks:\n{tasks}"
    )


def prepare_small_suite(
    root: Path,
    suite_id: str,
    kinds: dict[str, str],
    *,
    test_size: int,
    seed: int,
    max_new_tokens: int = 5,
) -> None:
    """Write the suite under ``root/tasks`` and prepare it into ``root/home`` (the caller's
    environment must point $MLLMCL_BENCH_HOME / $MLLMCL_BENCH_TASKS there)."""
    from benchmark.suites.prepare import prepare_suite
    from benchmark.suites.registry import load_suite

    (root / "tasks").mkdir(exist_ok=True)
    (root / "tasks" / f"{suite_id}.yaml").write_text(
        suite_yaml(suite_id, kinds, test_size=test_size, seed=seed, max_new_tokens=max_new_tokens)
    )
    prepare_suite(load_suite(suite_id))


def write_submission(
    entry: Path, suite: str, tasks: list[str], *, name: str = "entry", **changes
) -> None:
    """submission.yaml for a base model in ``model/`` and one LoRA adapter per step."""
    data = {
        "name": name,
        "method": "Sequential LoRA",
        "method_family": "lora-sequential",
        "suite": suite,
        "suite_version": 1,
        "base_model": {"id": "tiny-llava", "path": "model"},
        "checkpoints": [
            {"step": i, "task": t, "kind": "lora", "path": f"step-{i}"}
            for i, t in enumerate(tasks, start=1)
        ],
        "date": "2026-11-22",
        **changes,
    }
    (entry / "submission.yaml").write_text(yaml.safe_dump(data))


def build_world(root: Path) -> dict:
    """A data home with `toy` prepared, a tiny base model and three LoRA adapters."""
    from benchmark.demo.tiny_models import build_tiny_llava, make_lora_adapter

    models = root / "models"
    base = build_tiny_llava(models / "base", seed=0)
    adapters = [make_lora_adapter(base, models / f"step-{i}", seed=i) for i in (1, 2, 3)]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(HOME_ENV, str(root / "home"))
        mp.setenv(TASKS_ENV, str(root / "tasks"))
        prepare_small_suite(
            root, "toy", {"a": "colour", "b": "shape", "c": "count"}, test_size=10, seed=1
        )
    return {"root": root, "base": base, "adapters": adapters}


def make_entry(tmp_path: Path, world, name: str = "seq", **changes) -> Path:
    entry = tmp_path / name
    entry.mkdir()
    shutil.copytree(world["base"], entry / "model")
    for i, adapter in enumerate(world["adapters"], start=1):
        shutil.copytree(adapter, entry / f"step-{i}")
    write_submission(entry, "toy", TASKS, name=name, **changes)
    return entry


def predictions(entry: Path) -> dict[tuple[int, str], list[dict]]:
    out = {}
    for step in range(4):
        for task in TASKS:
            path = entry / "predictions" / f"step-{step:02d}" / f"{task}.jsonl"
            out[(step, task)] = [json.loads(line) for line in path.read_text().splitlines()]
    return out


def stable(results: dict) -> dict:
    """results.json without what legitimately differs between runs."""
    body = {k: v for k, v in results.items() if k != "provenance"}
    prov = {
        k: v
        for k, v in results["provenance"].items()
        if k not in ("started", "finished", "wall_seconds", "generated")
    }
    return {**body, "provenance": prov}


def short_answer_suite(suite_id: str, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped ``tasks/<suite_id>.yaml`` with answers cut at 12 tokens (a tiny model
    rambles to the suite's limit, up to 1024), on ``$MLLMCL_BENCH_TASKS``."""
    shipped = yaml.safe_load((Path(__file__).parents[1] / "tasks" / f"{suite_id}.yaml").read_text())
    for task in shipped["tasks"].values():
        task["max_new_tokens"] = 12
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{suite_id}.yaml").write_text(yaml.safe_dump(shipped, sort_keys=False))
    monkeypatch.setenv(TASKS_ENV, str(folder))


def tiny_entry_on_mirror(
    suite_id: str,
    build_mirror: Callable[[Path], Any],
    world: dict,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[Path, list[str]]:
    """``suite_id`` prepared from the test mirror ``build_mirror`` writes (answers cut short,
    see ``short_answer_suite``), and a tiny-model entry folder on it: the world's base as
    ``model``, one step a task from its three adapters in turn, no submission.yaml yet.
    Returns the entry folder and the suite's task order."""
    from benchmark.suites.prepare import prepare_suite
    from benchmark.suites.registry import load_suite

    build_mirror(tmp_path / "mirror")
    short_answer_suite(suite_id, tmp_path / "tasks", monkeypatch)
    suite = load_suite(suite_id)
    prepare_suite(suite, from_dir=tmp_path / "mirror")
    entry = tmp_path / "entry"
    entry.mkdir()
    shutil.copytree(world["base"], entry / "model")
    tasks = suite.order()
    for i in range(1, len(tasks) + 1):
        shutil.copytree(world["adapters"][(i - 1) % 3], entry / f"step-{i}")
    return entry, tasks
