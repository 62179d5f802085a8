"""Preparing a suite: records, task hashes, stats and the manifest.

Preparing a suite writes ``<data home>/suites/<suite>/`` atomically: one Parquet file per
task and split, the images they reference, ``manifest.json`` (versions, raw-file sha256,
counts, task hashes) and ``stats.json`` (descriptive statistics).
"""

from __future__ import annotations

import hashlib
import json
import statistics
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from benchmark import __version__
from benchmark._files import replacing_dir, write_text_atomic
from benchmark.errors import BenchmarkError, SourceError, SuiteError
from benchmark.paths import suite_data_dir
from benchmark.scoring import KNOWN_SCORERS
from benchmark.suites.records import Record, RecordWriter, iter_records
from benchmark.suites.registry import Suite
from benchmark.suites.sources import SourceRequest, TaskRequest, load_source

# /2: task hashes cover decoded image pixels (not file bytes). A manifest of another schema
# was prepared by a harness that hashed differently: the suite must be prepared again.
MANIFEST_SCHEMA = "mllmcl-bench/manifest/2"


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


SOURCE_FILE_KEYS = ("source_file", "references_file")
"""Record meta keys naming the raw files a record was read from (shown by ``tasks show``)."""


class _TaskHasher:
    """Hash of a task's test records *and* the pixels of every image they reference.

    Decoded pixels (mode, size, bytes), not file bytes: the same picture encoded by another
    PNG/zlib build hashes the same, and a corrupt image is caught here, naming the file.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.images = hashlib.sha256()
        self._seen: set[str] = set()
        self.files: set[str] = set()  # raw files the records name in meta (source_file …)

    def __call__(self, record: Record) -> None:
        if "_file" in record.meta:
            meta = record.meta_dict
            self.files.update(str(meta[k]) for k in SOURCE_FILE_KEYS if meta.get(k))
        for image in record.images:
            if image not in self._seen:
                self._seen.add(image)
                self.images.update(
                    f"{image}\0{image_pixels_sha256(self.data_dir / image)}\n".encode()
                )


def image_pixels_sha256(path: Path) -> str:
    """sha256 over an image's decoded mode, size and pixel bytes."""
    from PIL import Image, UnidentifiedImageError

    from benchmark.suites.sources.common import untrusted_image

    try:
        with untrusted_image(str(path)), Image.open(path) as image:
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
    source = load_source(suite.source.module)
    raw_dir, raw_files = None, {}
    upstream: list[dict[str, Any]] = []
    from benchmark.suites.sources import hub

    if from_dir is not None or hub.has_upstream(suite.source):
        raw_dir, raw_files = hub.materialise(suite.source, from_dir=from_dir, home=home)
        upstream = hub.upstream(raw_dir)
    with replacing_dir(suite_data_dir(suite.id, home)) as work:
        request = _request(suite, work, raw_dir)
        counts: dict[str, dict[str, int]] = {}
        record_hashes: dict[str, dict[str, str]] = {}
        task_hashes: dict[str, str] = {}
        task_files: dict[str, dict[str, str | None]] = {}
        stats: dict[str, dict[str, Any]] = {}
        for task in suite.tasks:
            for split in task.splits:
                path = work / task.id / f"{split}.parquet"
                hasher = _TaskHasher(work)
                with RecordWriter(
                    path, data_dir=work, known_scorers=KNOWN_SCORERS, on_record=hasher
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
                    if hasher.files:  # which raw files (and their sha256) the test was read from
                        task_files[task.id] = {f: raw_files.get(f) for f in sorted(hasher.files)}
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
            "task_files": task_files,
            "records_sha256": record_hashes,
        }
        write_text_atomic(work / "manifest.json", json.dumps(manifest, indent=2) + "\n")
        write_text_atomic(work / "stats.json", json.dumps(stats, indent=2) + "\n")
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


def ensure_prepared(suite: Suite) -> dict[str, Any]:
    manifest_path = suite_data_dir(suite.id) / "manifest.json"
    from benchmark.suites.sources.hub import has_upstream

    offline = not has_upstream(suite.source)
    if offline and not _prepared_is_current(manifest_path, suite.version):
        print(f"preparing {suite.id} (built in, offline) …", file=sys.stderr)
        prepare_suite(suite)
    manifest = read_manifest(suite.id)
    if manifest.get("suite_version") != suite.version:
        raise BenchmarkError(
            f"prepared data of {suite.id} is version {manifest.get('suite_version')}, the suite "
            f"is version {suite.version}: run mllmcl-bench tasks prepare {suite.id}"
        )
    return manifest


def _prepared_is_current(manifest_path: Path, version: int) -> bool:
    """A prepared manifest of this harness's schema and the suite's version."""
    from benchmark.suites.prepare import MANIFEST_SCHEMA

    if not manifest_path.is_file():
        return False
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    return manifest.get("schema") == MANIFEST_SCHEMA and manifest.get("suite_version") == version
