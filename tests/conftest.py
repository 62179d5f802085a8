"""Shared fixtures: an isolated data home, and the built-in suite prepared once per session.

Tests write only under temporary directories: the session fails if the work tree has new or
changed files when it ends (tool caches aside).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import settings

from benchmark.paths import HOME_ENV, TASKS_ENV

ROOT = Path(__file__).resolve().parents[1]
GIT_STATUS = ("git", "status", "--porcelain=v1", "--untracked-files=all", "--ignored")
OUTSIDE = ("--", ".", ":!.venv", ":!.venv-drift")  # environments are not the tests' doing
# Tool caches that may appear in the work tree; anything else a test writes there is a defect.
TOOL_CACHES = ("__pycache__/", ".pytest_cache/", ".hypothesis/", ".egg-info/")
# Hypothesis keeps no example database (it still caches constants under .hypothesis/).
settings.register_profile("no-database", database=None)
settings.load_profile("no-database")


def work_tree_state() -> set[str] | None:
    """`git status` lines for every changed, untracked or ignored path (None outside git)."""
    if not (ROOT / ".git").exists():
        return None
    result = subprocess.run(
        [*GIT_STATUS, *OUTSIDE],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        return None
    return {line for line in result.stdout.splitlines() if not any(c in line for c in TOOL_CACHES)}


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[WORK_TREE] = work_tree_state()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    before = session.config.stash.get(WORK_TREE, None)
    after = work_tree_state()
    if before is None or after is None:
        return
    written = sorted(after - before)
    if written:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(
                "tests wrote into the work tree (write under tmp_path instead): "
                + ", ".join(line[3:] for line in written),
                red=True,
            )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


WORK_TREE = pytest.StashKey[set[str] | None]()


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
    from benchmark.suites.prepare import prepare_suite
    from benchmark.suites.registry import load_suite

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
