"""Upstream datasets → Records.

Each module here turns one upstream's raw files (or, for ``shapes``, a seed) into Records.
A source module exposes::

    VERIFIED: bool                      # layout checked against the real upstream files
    def records(request: SourceRequest, task: str, split: str) -> Iterator[Record]

and writes any images it creates under ``request.out_dir`` (the suite's data directory),
referencing them by paths relative to it. The suite registry (``benchmark.suites``) builds
the request from a suite's YAML; sources never read YAML themselves.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from benchmark.errors import SuiteError


@dataclass(frozen=True)
class TaskRequest:
    """What a source needs to know about one task (from the suite YAML)."""

    task: str
    splits: tuple[str, ...]
    scorer: str
    prompt_suffix: str = ""
    choice_suffix: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SourceRequest:
    suite: str
    tasks: dict[str, TaskRequest]
    out_dir: Path
    raw_dir: Path | None = None
    options: dict[str, Any] = field(default_factory=dict)


class SourceModule(Protocol):
    VERIFIED: bool

    def records(self, request: SourceRequest, task: str, split: str) -> Any: ...


def load_source(name: str) -> ModuleType:
    """Import ``benchmark.suites.sources.<name>``; a clear error when there is no such module."""
    if not name.isidentifier():
        raise SuiteError(f"source module {name!r} is not a valid module name")
    try:
        module = importlib.import_module(f"benchmark.suites.sources.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"benchmark.suites.sources.{name}":
            raise SuiteError(
                f"no source module benchmark/suites/sources/{name}.py for source.module {name!r}"
            ) from None
        raise
    if not callable(getattr(module, "records", None)):
        raise SuiteError(f"benchmark/suites/sources/{name}.py has no records(request, task, split)")
    return module
