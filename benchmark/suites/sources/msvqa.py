"""MSVQA (arXiv 2511.18507, UNIFIER): VQA and grounding in four visual scenarios.

The file layout of the hub dataset ``Kaij00/MSVQA`` is **unknown** (no code release could
be read). This module expects the layout below and lets the suite YAML change every part
of it — file templates, field names, which records belong to a task — so a different
layout is fixed in data, not code.

Expected layout (``source.options.layout``, default ``{scenario}/step{step}/{split}.json``)::

    high_altitude/step1/train.json    one file per scenario, step and split:
    high_altitude/step1/test.json     a JSON array, JSON lines, or Parquet
    ...                               (scenarios: high_altitude, underwater,
    indoor/step5/test.json             low_altitude, indoor; steps 1-5)

Records: ``{question_id, image, question, answer, type}``; ``answer`` is a string or a list of
annotators' answers (VQA), or — for ``type`` ``grounding`` — the gold boxes, a JSON list of
``[x1, y1, x2, y2]`` (kept as one JSON string). ``image`` is a path relative to the file's
folder, the folder above, or the root; or embedded bytes (a Parquet image column).

Task options: ``scenario``, ``step`` (fill the template), ``files: {split: path or glob}``
(instead of the template), ``select: {field: value}`` (only matching records — for a layout
with one file per scenario), ``f1`` (the grounding scorer: ``detection_f1`` by default,
``set_f1`` or ``token_f1``), ``grounding_types`` (values of ``type`` scored by F1),
``grounding_suffix`` (prompt suffix of grounding items), ``verify_images``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from benchmark.errors import SourceError, SuiteError
from benchmark.suites.records import Record
from benchmark.suites.sources import SourceRequest, TaskRequest
from benchmark.suites.sources.common import (
    Fields,
    Images,
    UniqueIds,
    answers_of,
    is_missing,
    iter_rows,
    join_suffix,
    per_split,
    raw_root,
    require_files,
    scalar_meta,
    task_options,
)

VERIFIED = False  # the layout is a definition of ours; the hub files were never read

DEFAULT_LAYOUT = "{scenario}/step{step}/{split}.json"
F1_SCORERS = ("detection_f1", "set_f1", "token_f1")
GROUNDING_TYPES = ("grounding", "detection", "rec")
FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("question_id", "id"),
    "image": ("image", "image_path"),
    "question": ("question", "text"),
    "answer": ("answer", "answers"),
    "type": ("type", "task_type"),
}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _files(
    raw_dir: Path, spec: TaskRequest, options: Mapping[str, Any], split: str
) -> list[PurePosixPath]:
    pattern = per_split(options.get("files"), split) or options.get("layout", DEFAULT_LAYOUT)
    values = {
        "split": split,
        "task": spec.task,
        **{k: options.get(k) for k in ("scenario", "step")},
    }
    try:
        pattern = str(pattern).format(**values)
    except (KeyError, IndexError) as exc:
        raise SuiteError(f"tasks.{spec.task}: file template {pattern!r} needs {exc}") from None
    return require_files(raw_dir, [pattern], f"the {spec.task} {split} records")


def _selected(row: Mapping[str, Any], select: Mapping[str, Any]) -> bool:
    return all(str(row.get(key)) == str(value) for key, value in select.items())


def _gold(value: Any, grounding: bool, where: str, index: int) -> tuple[str, ...]:
    """VQA: every annotator's answer. Grounding: the boxes as one JSON string (a list of
    names — for ``set_f1`` — as one comma-separated string)."""
    if grounding and isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return (", ".join(v.strip() for v in value),)
    if grounding and not isinstance(value, str):
        if is_missing(value) or not isinstance(value, list | dict):
            raise SourceError(f"{where}: record {index}: grounding answer {value!r} has no boxes")
        return (json.dumps(value, separators=(",", ":")),)
    return answers_of(value, where, index)


def _image(value: Any, rel: PurePosixPath, images: Images, name: str, index: int) -> list[str]:
    where = rel.as_posix()
    if is_missing(value):
        raise SourceError(f"{where}: record {index} has no image")
    if isinstance(value, dict) and value.get("bytes"):
        return [images.from_bytes(value["bytes"], name, where, index)]
    if isinstance(value, bytes):
        return [images.from_bytes(value, name, where, index)]
    name = value.get("path") if isinstance(value, dict) else value
    return [images.place(name, where, index)]


def _scoring(options: Mapping[str, Any], spec: TaskRequest) -> tuple[str, tuple[str, ...]]:
    f1 = options.get("f1", "detection_f1")
    if f1 not in F1_SCORERS:
        raise SuiteError(f"tasks.{spec.task}.options.f1: {f1!r} is not one of {F1_SCORERS}")
    kinds = tuple(str(k).lower() for k in options.get("grounding_types", GROUNDING_TYPES))
    return f1, kinds


def records(request: SourceRequest, task: str, split: str) -> Iterator[Record]:
    """The records of one MSVQA task (scenario step) and split."""
    spec = request.tasks[task]
    options = task_options(request, task)
    raw_dir = raw_root(request, "msvqa")
    f1, grounding_types = _scoring(options, spec)
    select = options.get("select") or {}
    fields = Fields.of_task(spec, FIELDS)
    images = Images(raw_dir, request.out_dir, verify=bool(options.get("verify_images", True)))
    unique = UniqueIds()
    for rel in _files(raw_dir, spec, options, split):
        where = rel.as_posix()
        for index, row in enumerate(iter_rows(raw_dir / rel, where)):
            if select and not _selected(row, select):
                continue
            uid, duplicate = unique.of_row(fields, row, where, index)
            kind = str(fields.opt(row, "type", "vqa")).lower()
            grounding = kind in grounding_types
            question = str(fields.get(row, "question", where, index)).strip()
            suffix = options.get("grounding_suffix", "") if grounding else spec.prompt_suffix
            name = f"{task}/{split}/{_UNSAFE.sub('_', uid)}"
            meta = scalar_meta(row, fields.used(row)) | {"type": kind}
            yield Record.make(
                suite=request.suite,
                task=task,
                split=split,
                upstream_id=uid,
                question=join_suffix(question, suffix),
                answers=_gold(fields.get(row, "answer", where, index), grounding, where, index),
                scorer=f1 if grounding else spec.scorer,
                images=_image(fields.get(row, "image", where, index), rel, images, name, index),
                meta=meta | {"source_file": where} | ({"duplicate_id": True} if duplicate else {}),
            )
