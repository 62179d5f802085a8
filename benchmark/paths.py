"""Where things live on disk: the data home, prepared suites, the built-in suite files."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

HOME_ENV = "MLLMCL_BENCH_HOME"
TASKS_ENV = "MLLMCL_BENCH_TASKS"


def data_home() -> Path:
    """``$MLLMCL_BENCH_HOME``, else the platform's user cache dir for mllmcl-bench."""
    value = os.environ.get(HOME_ENV)
    if value:
        return Path(value).expanduser()
    return Path(platformdirs.user_cache_dir("mllmcl-bench"))


def suite_data_dir(suite_id: str, home: Path | None = None) -> Path:
    """The prepared suite's directory: records, images, manifest.json, stats.json."""
    return (home or data_home()) / "suites" / suite_id


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def installed_data_dir() -> Path:
    """Where a wheel installs ``tasks/`` and ``leaderboard/`` (pyproject's data-files)."""
    return Path(sys.prefix) / "share" / "mllmcl-bench"


def builtin_tasks_dir() -> Path:
    """The shipped suite definitions: ``tasks/`` in a checkout, else the installed copy."""
    checkout = repo_root() / "tasks"
    if checkout.is_dir():
        return checkout
    return installed_data_dir() / "tasks"


def suite_search_path() -> list[Path]:
    """Directories searched for ``<suite>.yaml``: ``$MLLMCL_BENCH_TASKS`` first, then built-ins."""
    extra = [Path(p).expanduser() for p in os.environ.get(TASKS_ENV, "").split(os.pathsep) if p]
    return [*extra, builtin_tasks_dir()]
