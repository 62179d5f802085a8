"""The suite registry: ``tasks/<suite>.yaml`` → Suite / Task objects, and preparing a suite.

A suite file is declarative: version and changelog, the upstream source (module, hub repo,
pinned revision, files), the task order(s), probes, and per task the scorer, prompt
suffixes, ``max_new_tokens``, splits, field-name overrides and source options. Code lives
in ``benchmark/``; the YAML only selects it. Adding a suite needs a YAML (and, for a new
upstream, a module in ``benchmark/sources/``) and no edit elsewhere.

Preparing a suite writes ``<data home>/suites/<suite>/`` atomically: one Parquet file per
task and split, the images they reference, ``manifest.json`` (versions, raw-file sha256,
counts, task hashes) and ``stats.json`` (descriptive statistics).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import statistics
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from benchmark import __version__
from benchmark.errors import BenchmarkError, SourceError, SuiteError
from benchmark.paths import suite_data_dir, suite_search_path
from benchmark.records import Record, RecordWriter, iter_records
from benchmark.scoring import SCORERS
from benchmark.sources import SourceRequest, TaskRequest, load_source

# /2: task hashes cover decoded image pixels (not file bytes). A manifest of another schema
# was prepared by a harness that hashed differently: the suite must be prepared again.
MANIFEST_SCHEMA = "mllmcl-bench/manifest/2"
ID_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChangelogEntry(_Strict):
    version: int
    date: date
    change: str


class SourceSpec(_Strict):
    module: str = Field(description="benchmark/sources/<module>.py that builds the records")
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


class Task(_Strict):
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
        if value not in SCORERS:
            raise ValueError(f"unknown scorer {value!r}; known: {', '.join(sorted(SCORERS))}")
        return value

    @field_validator("splits")
    @classmethod
    def _test_split(cls, value: list[str]) -> list[str]:
        if "test" not in value:
            raise ValueError("every task needs a 'test' split")
        if len(set(value)) != len(value):
            raise ValueError("splits are listed twice")
        return value


class Suite(_Strict):
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

    def columns(self, order: str = "default") -> list[str]:
        """Matrix columns: the order's tasks in training order, then the probes."""
        return [*self.order(order), *self.probes]


def _format_loc(loc: tuple[Any, ...], data: Any) -> str:
    """Turn pydantic's location into the YAML path (task lists shown by their id)."""
    parts: list[str] = []
    node = data
    for item in loc:
        if isinstance(item, int) and isinstance(node, list):
            entry = node[item] if item < len(node) else None
            label = entry.get("id") if isinstance(entry, dict) else None
            parts.append(f"[{label}]" if label else f"[{item}]")
            node = entry
        else:
            parts.append(f".{item}" if parts else str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return "".join(parts) or "(top level)"


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
        first = exc.errors()[0]
        message = first["msg"].removeprefix("Value error, ")
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise SuiteError(
            f"{path}: field {_format_loc(first['loc'], data)}: {message}{more}"
        ) from None
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


# --------------------------------------------------------------------------- preparing


def _request(suite: Suite, out_dir: Path, raw_dir: Path | None) -> SourceRequest:
    tasks = {
        t.id: TaskRequest(
            task=t.id,
            splits=tuple(t.splits),
            scorer=t.scorer,
            prompt_suffix=t.prompt_suffix,
            choice_suffix=t.choice_suffix,
            fields=dict(t.fields),
            options=dict(t.options),
        )
        for t in suite.tasks
    }
    return SourceRequest(
        suite=suite.id,
        tasks=tasks,
        out_dir=out_dir,
        raw_dir=raw_dir,
        options=dict(suite.source.options),
    )


class _TaskHasher:
    """Hash of a task's test records *and* the pixels of every image they reference.

    Decoded pixels (mode, size, bytes), not file bytes: the same picture encoded by another
    PNG/zlib build hashes the same, and a corrupt image is caught here, naming the file.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.images = hashlib.sha256()
        self._seen: set[str] = set()

    def __call__(self, record: Record) -> None:
        for image in record.images:
            if image not in self._seen:
                self._seen.add(image)
                self.images.update(
                    f"{image}\0{image_pixels_sha256(self.data_dir / image)}\n".encode()
                )


def image_pixels_sha256(path: Path) -> str:
    """sha256 over an image's decoded mode, size and pixel bytes."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            header = f"{image.mode} {image.size[0]}x{image.size[1]}\n".encode()
            return hashlib.sha256(header + image.tobytes()).hexdigest()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise SourceError(f"{path}: not a readable image ({exc})") from None


def _stats(records: Iterator[Record]) -> dict[str, Any]:
    n = 0
    answer_chars: list[int] = []
    answers_per_item: Counter[int] = Counter()
    choices: Counter[str] = Counter()
    scorers: Counter[str] = Counter()
    images: Counter[int] = Counter()
    for record in records:
        n += 1
        answer_chars.append(len(record.answers[0]))
        answers_per_item[len(record.answers)] += 1
        choices[str(len(record.choices)) if record.choices else "open"] += 1
        scorers[record.scorer] += 1
        images[len(record.images)] += 1
    if not n:
        return {"items": 0}
    answer_chars.sort()
    return {
        "items": n,
        "answer_chars": {
            "min": answer_chars[0],
            "median": statistics.median(answer_chars),
            "mean": round(statistics.fmean(answer_chars), 2),
            "max": answer_chars[-1],
        },
        "answers_per_item": {str(k): v for k, v in sorted(answers_per_item.items())},
        "choices": dict(sorted(choices.items())),
        "scorers": dict(sorted(scorers.items())),
        "images_per_item": {str(k): v for k, v in sorted(images.items())},
    }


def _write_json(path: Path, payload: Any) -> None:
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def prepare_suite(
    suite: Suite,
    *,
    from_dir: Path | None = None,
    home: Path | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, Any]:
    """Build the suite's records into its data directory; return the manifest.

    The suite is built in a sibling ``.partial`` directory and swapped in at the end, so
    an interrupted prepare never leaves a half-written suite behind.
    """
    target = suite_data_dir(suite.id, home)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = target.with_name(f".{suite.id}.partial-{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    source = load_source(suite.source.module)
    raw_dir, raw_files = None, {}
    upstream: list[dict[str, Any]] = []
    if (
        suite.source.repo_id is not None
        or from_dir is not None
        or suite.source.options.get("extra_repos")
    ):
        from benchmark.sources import hub  # only suites with upstream files need the hub

        raw_dir, raw_files = hub.materialise(suite.source, from_dir=from_dir, home=home)
        upstream = hub.upstream(raw_dir)
    request = _request(suite, work, raw_dir)
    counts: dict[str, dict[str, int]] = {}
    record_hashes: dict[str, dict[str, str]] = {}
    task_hashes: dict[str, str] = {}
    stats: dict[str, dict[str, Any]] = {}
    try:
        for task in suite.tasks:
            for split in task.splits:
                path = work / task.id / f"{split}.parquet"
                hasher = _TaskHasher(work)
                with RecordWriter(
                    path, data_dir=work, known_scorers=SCORERS, on_record=hasher
                ) as writer:
                    for record in source.records(request, task.id, split):
                        if record.task != task.id or record.split != split:
                            raise SuiteError(
                                f"source {suite.source.module}: record {record.uid} was "
                                f"emitted for {task.id}/{split}"
                            )
                        writer.write(record)
                        if progress is not None:
                            progress(f"{task.id}/{split}", writer.count)
                if writer.count == 0:
                    raise SuiteError(f"{suite.id}/{task.id}/{split}: the source gave no records")
                counts.setdefault(task.id, {})[split] = writer.count
                record_hashes.setdefault(task.id, {})[split] = writer.records_sha256
                stats.setdefault(task.id, {})[split] = _stats(iter_records(path))
                if split == "test":
                    task_hashes[task.id] = hashlib.sha256(
                        f"{writer.records_sha256}\n{hasher.images.hexdigest()}".encode()
                    ).hexdigest()
        manifest = {
            "schema": MANIFEST_SCHEMA,
            "suite": suite.id,
            "suite_version": suite.version,
            "harness": __version__,
            "source": {
                "module": suite.source.module,
                "repo_id": suite.source.repo_id,
                "revision": suite.source.revision,
                "verified": bool(getattr(source, "VERIFIED", False) and suite.source.verified),
                "from_dir": str(from_dir) if from_dir is not None else None,
                "upstream": upstream,
            },
            "raw_files": raw_files,
            "counts": counts,
            "task_hashes": task_hashes,
            "records_sha256": record_hashes,
        }
        _write_json(work / "manifest.json", manifest)
        _write_json(work / "stats.json", stats)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    old = target.with_name(f".{suite.id}.old-{os.getpid()}")
    if target.exists():
        os.replace(target, old)
    os.replace(work, target)
    shutil.rmtree(old, ignore_errors=True)
    return manifest


def read_manifest(suite_id: str, home: Path | None = None) -> dict[str, Any]:
    """The prepared suite's manifest; a clear error when the suite is not prepared."""
    path = suite_data_dir(suite_id, home) / "manifest.json"
    if not path.is_file():
        raise BenchmarkError(
            f"suite {suite_id!r} is not prepared (no {path}); run: mllmcl-bench tasks prepare "
            f"{suite_id}"
        )
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("schema") != MANIFEST_SCHEMA:
        raise BenchmarkError(
            f"{path} was written by another harness version ({manifest.get('schema')}); "
            f"run: mllmcl-bench tasks prepare {suite_id}"
        )
    return manifest


def read_stats(suite_id: str, home: Path | None = None) -> dict[str, Any] | None:
    path = suite_data_dir(suite_id, home) / "stats.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def records_path(
    suite_id: str, task_id: str, split: str = "test", home: Path | None = None
) -> Path:
    return suite_data_dir(suite_id, home) / task_id / f"{split}.parquet"
