"""The suite registry: ``tasks/<suite>.yaml`` → Suite / Task / SourceSpec.

A suite file is declarative: version and changelog, the upstream source (module, hub repo,
pinned revision, files), the task order(s), probes, per task the scorer, prompt
suffixes, ``max_new_tokens``, splits, field-name overrides and source options, and which
base models' training data contain which tasks (``contamination``). Code lives
in ``benchmark/``; the YAML only selects it. Adding a suite needs a YAML (and, for a new
upstream, a module in ``benchmark/suites/sources/``) and no edit elsewhere.
"""

from __future__ import annotations

import fnmatch
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from benchmark._files import StrictModel, first_error
from benchmark.errors import SuiteError
from benchmark.paths import suite_search_path
from benchmark.scoring import KNOWN_SCORERS

ID_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"


class ChangelogEntry(StrictModel):
    version: int
    date: date
    change: str


class SourceSpec(StrictModel):
    module: str = Field(description="benchmark/suites/sources/<module>.py that builds the records")
    repo_id: str | None = Field(None, description="hub dataset id, e.g. MLLM-CL/MLLM-CL")
    revision: str | None = Field(None, description="pinned 40-hex commit of the hub repo")
    allow_patterns: list[str] = Field(default_factory=list)
    verified: bool = Field(False, description="layout checked against the real upstream files")
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("revision")
    @classmethod
    def _full_sha(cls, value: str | None) -> str | None:
        if value is not None and (
            len(value) != 40 or any(c not in "0123456789abcdef" for c in value)
        ):
            raise ValueError("must be a full 40-character lowercase hex commit sha")
        return value


class Contamination(StrictModel):
    """Tasks whose test data (or its images) are in some base models' training data."""

    base_models: list[str] = Field(
        min_length=1,
        description="base model ids, shell-style patterns matched without case "
        "(e.g. '*llava-v1.5*')",
    )
    tasks: list[str] = Field(min_length=1)
    note: str = Field(description="what overlaps, and where that is known from")

    def covers(self, base_model_id: str) -> bool:
        name = base_model_id.lower()
        return any(fnmatch.fnmatchcase(name, p.lower()) for p in self.base_models)


class Task(StrictModel):
    id: str = Field(pattern=ID_PATTERN)
    name: str
    scorer: str
    prompt_suffix: str = ""
    choice_suffix: str = ""
    max_new_tokens: int = Field(ge=1, le=8192)
    splits: list[str] = Field(default_factory=lambda: ["test"], min_length=1)
    fields: dict[str, str] = Field(default_factory=dict)
    options: dict[str, Any] = Field(default_factory=dict)
    description: str = ""

    @field_validator("scorer")
    @classmethod
    def _known_scorer(cls, value: str) -> str:
        if value not in KNOWN_SCORERS:
            known = ", ".join(sorted(KNOWN_SCORERS))
            raise ValueError(f"unknown scorer {value!r}; known: {known}")
        return value

    @field_validator("splits")
    @classmethod
    def _test_split(cls, value: list[str]) -> list[str]:
        if "test" not in value:
            raise ValueError("every task needs a 'test' split")
        if len(set(value)) != len(value):
            raise ValueError("splits are listed twice")
        return value


class Suite(StrictModel):
    id: str = Field(pattern=ID_PATTERN)
    version: int = Field(ge=1)
    title: str
    description: str = ""
    status: Literal["stable", "unverified", "reconstruction"] = "stable"
    changelog: list[ChangelogEntry] = Field(min_length=1)
    source: SourceSpec
    orders: dict[str, list[str]]
    probes: list[str] = Field(default_factory=list)
    tasks: list[Task] = Field(min_length=1)
    contamination: list[Contamination] = Field(default_factory=list)
    path: Path | None = Field(None, exclude=True)

    @model_validator(mode="after")
    def _consistent(self) -> Suite:
        ids = [t.id for t in self.tasks]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"tasks: duplicate task id(s) {', '.join(dupes)}")
        known = set(ids)
        if "default" not in self.orders:
            raise ValueError("orders: a 'default' order is required")
        for name, order in self.orders.items():
            if not order:
                raise ValueError(f"orders.{name}: empty order")
            unknown = [t for t in order if t not in known]
            if unknown:
                raise ValueError(f"orders.{name}: unknown task(s) {', '.join(unknown)}")
            if len(set(order)) != len(order):
                raise ValueError(f"orders.{name}: a task is listed twice")
            trained_probes = [t for t in order if t in self.probes]
            if trained_probes:
                raise ValueError(f"orders.{name}: probe(s) {', '.join(trained_probes)} in order")
        unknown = [t for t in self.probes if t not in known]
        if unknown:
            raise ValueError(f"probes: unknown task(s) {', '.join(unknown)}")
        for i, flag in enumerate(self.contamination):
            unknown = [t for t in flag.tasks if t not in known]
            if unknown:
                raise ValueError(f"contamination[{i}].tasks: unknown task(s) {', '.join(unknown)}")
        newest = max(entry.version for entry in self.changelog)
        if newest != self.version:
            raise ValueError(
                f"changelog: newest entry is version {newest} but the suite is version "
                f"{self.version}; add a changelog line for every version bump"
            )
        return self

    def task(self, task_id: str) -> Task:
        for task in self.tasks:
            if task.id == task_id:
                return task
        raise SuiteError(
            f"suite {self.id!r} has no task {task_id!r}; tasks: "
            f"{', '.join(t.id for t in self.tasks)}"
        )

    def order(self, name: str = "default") -> list[str]:
        if name not in self.orders:
            raise SuiteError(
                f"suite {self.id!r} has no order {name!r}; orders: {', '.join(self.orders)}"
            )
        return list(self.orders[name])

    def contaminated(self, base_model_id: str) -> dict[str, str]:
        """Task → note, for the tasks whose test data this base model was trained on."""
        found: dict[str, str] = {}
        for flag in self.contamination:
            if flag.covers(base_model_id):
                for task in flag.tasks:
                    found.setdefault(task, flag.note)
        return found

    def columns(self, order: str = "default") -> list[str]:
        """Matrix columns: the order's tasks in training order, then the probes."""
        return [*self.order(order), *self.probes]


def load_suite_file(path: Path) -> Suite:
    """Parse and validate one suite file; SuiteError naming the file and the field."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SuiteError(f"{path}: cannot read suite file ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SuiteError(f"{path}:{where}: invalid YAML ({problem})") from None
    if not isinstance(data, dict):
        raise SuiteError(f"{path}: a suite file must be a YAML mapping at the top level")
    if isinstance(data.get("tasks"), dict):  # allow `tasks: {id: {...}}` as well as a list
        data["tasks"] = [{"id": key, **(value or {})} for key, value in data["tasks"].items()]
    try:
        suite = Suite.model_validate({**data, "path": path})
    except ValidationError as exc:
        raise SuiteError(f"{path}: {first_error(exc, data)}") from None
    if suite.id != path.stem:
        raise SuiteError(f"{path}: field id: {suite.id!r} must equal the file name {path.stem!r}")
    return suite


def suite_files() -> dict[str, Path]:
    """Suite id → file; earlier directories on the search path shadow later ones."""
    found: dict[str, Path] = {}
    for directory in suite_search_path():
        if directory.is_dir():
            for path in sorted(directory.glob("*.yaml")):
                found.setdefault(path.stem, path)
    return found


def list_suites() -> list[Suite]:
    return [load_suite_file(path) for path in suite_files().values()]


def load_suite(suite_id: str) -> Suite:
    files = suite_files()
    if suite_id not in files:
        raise SuiteError(
            f"unknown suite {suite_id!r}; known: {', '.join(sorted(files)) or '(none)'}"
        )
    return load_suite_file(files[suite_id])


def split_spec(spec: str) -> tuple[Suite, Task | None]:
    """``SUITE`` or ``SUITE/TASK`` → (suite, task or None)."""
    suite_id, _, task_id = spec.partition("/")
    suite = load_suite(suite_id)
    return suite, (suite.task(task_id) if task_id else None)
