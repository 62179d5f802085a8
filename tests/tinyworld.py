"""A tiny world for evaluator tests: a small suite, a tiny LLaVA-shaped model, three LoRA
adapters, and entries built from them (fixtures `world` and `env` live in conftest.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from benchmark.paths import HOME_ENV, TASKS_ENV

TOY = """\
id: toy
version: 1
title: Toy
changelog: [{version: 1, date: 2026-11-01, change: first}]
source: {module: shapes, options: {seed: 1, image_size: 28, sizes: {test: 10}}}
orders: {default: [a, b, c]}
tasks:
  a: {name: A, scorer: exact_match, max_new_tokens: 5, options: {kind: colour}}
  b: {name: B, scorer: exact_match, max_new_tokens: 5, options: {kind: shape}}
  c: {name: C, scorer: exact_match, max_new_tokens: 5, options: {kind: count}}
"""
TASKS = ["a", "b", "c"]


def build_world(root: Path) -> dict:
    """A data home with `toy` prepared, a tiny base model and three LoRA adapters."""
    from benchmark.suites import load_suite, prepare_suite
    from benchmark.tiny import build_tiny_llava, make_lora_adapter

    (root / "tasks").mkdir()
    (root / "tasks" / "toy.yaml").write_text(TOY)
    models = root / "models"
    base = build_tiny_llava(models / "base", seed=0)
    adapters = [make_lora_adapter(base, models / f"step-{i}", seed=i) for i in (1, 2, 3)]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(HOME_ENV, str(root / "home"))
        mp.setenv(TASKS_ENV, str(root / "tasks"))
        prepare_suite(load_suite("toy"))
    return {"root": root, "base": base, "adapters": adapters}


def make_entry(tmp_path: Path, world, name: str = "seq", **changes) -> Path:
    entry = tmp_path / name
    entry.mkdir()
    shutil.copytree(world["base"], entry / "model")
    for i, adapter in enumerate(world["adapters"], start=1):
        shutil.copytree(adapter, entry / f"step-{i}")
    data = {
        "name": name,
        "method": "Sequential LoRA",
        "method_family": "lora-sequential",
        "suite": "toy",
        "suite_version": 1,
        "base_model": {"id": "tiny-llava", "path": "model"},
        "checkpoints": [
            {"step": i, "task": t, "kind": "lora", "path": f"step-{i}"}
            for i, t in enumerate(TASKS, start=1)
        ],
        "date": "2026-11-22",
        **changes,
    }
    (entry / "submission.yaml").write_text(yaml.safe_dump(data))
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
