"""Shared fixtures: an isolated data home, and the built-in suite prepared once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmark.paths import HOME_ENV, TASKS_ENV


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty ``$MLLMCL_BENCH_HOME`` for one test."""
    path = tmp_path / "home"
    monkeypatch.setenv(HOME_ENV, str(path))
    monkeypatch.delenv(TASKS_ENV, raising=False)
    return path


@pytest.fixture(scope="session")
def shapes_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data home with the real ``shapes`` suite prepared (shared, treat as read-only)."""
    from benchmark.suites import load_suite, prepare_suite

    path = tmp_path_factory.mktemp("shapes-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(HOME_ENV, str(path))
        mp.delenv(TASKS_ENV, raising=False)
        prepare_suite(load_suite("shapes"), home=path)
    return path


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A tiny model, three LoRA adapters and the small `toy` suite (see tinyworld.py)."""
    from tinyworld import build_world

    return build_world(tmp_path_factory.mktemp("world"))


@pytest.fixture
def env(world: dict, monkeypatch: pytest.MonkeyPatch) -> dict:
    """`world`, with $MLLMCL_BENCH_HOME and $MLLMCL_BENCH_TASKS pointing into it."""
    monkeypatch.setenv(HOME_ENV, str(world["root"] / "home"))
    monkeypatch.setenv(TASKS_ENV, str(world["root"] / "tasks"))
    return world
