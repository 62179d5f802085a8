"""Routing-based CL (arXiv 2511.01831), reconstructed: general probes and specialised tasks.

The paper released neither code nor splits. The suite rebuilds its protocol from public
data: specialised tasks learned in sequence (taken from the other suites by delegating
to their source modules) and general benchmarks evaluated at every step as probes, with
their standard scoring. Each probe is an extra hub repo of Parquet files with embedded
images, mounted under its own folder (``DIR/<subdir>`` in a mirror)::

    chartqa/data/test-*.parquet            lmms-lab/ChartQA  question, answer, type, image
    docvqa/DocVQA/validation-*.parquet     lmms-lab/DocVQA   questionId, question, answers, image
    mmbench/en/dev-*.parquet               lmms-lab/MMBench  index, question, hint, A-D, answer,
                                                             category, image

DocVQA and MMBench keep their test answers private, so the probes use the validation (DocVQA)
and dev (MMBench English) splits. Images are written to ``images/<task>/<split>/<id>.<ext>``.

Task options: ``kind`` (``chartqa``, ``docvqa``, ``mmbench``) for a probe, with ``files:
{split: glob}`` to change where it is read; or ``delegate: <source module>`` (``mllm_cl``,
``msvqa``) for a specialised task, whose other options are that module's, paths included.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmark.errors import SourceError, SuiteError
from benchmark.suites.records import CHOICE_LETTERS, Record, render_choices
from benchmark.suites.sources import SourceRequest, TaskRequest, load_source
from benchmark.suites.sources.common import (
    Fields,
    Images,
    answers_of,
    is_missing,
    iter_rows,
    join_suffix,
    per_split,
    raw_root,
    require_files,
    scalar_meta,
    task_options,
    upstream_id,
)

VERIFIED = False  # hub file names and columns from the dataset cards; not read from here

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Probe:
    """How one general benchmark's rows become records."""

    files: str
    fields: dict[str, tuple[str, ...]]
    build: Callable[[dict[str, Any], Fields, str, int, TaskRequest], dict[str, Any]]
    row_ids: bool = False  # no id column upstream: ids are row numbers (stable when pinned)


def _open(
    row: dict[str, Any], fields: Fields, where: str, index: int, spec: TaskRequest
) -> dict[str, Any]:
    """A short-answer question (ChartQA, DocVQA): the question, then the suffix on a new line."""
    question = str(fields.get(row, "question", where, index)).strip()
    return {
        "question": join_suffix(question, spec.prompt_suffix, "\n"),
        "answers": answers_of(fields.get(row, "answer", where, index), where, index),
    }


def _mmbench(
    row: dict[str, Any], fields: Fields, where: str, index: int, spec: TaskRequest
) -> dict[str, Any]:
    choices = []
    for letter in CHOICE_LETTERS:
        if is_missing(row.get(letter)) or str(row[letter]).strip().lower() == "nan":
            break
        choices.append(str(row[letter]).strip())
    if len(choices) < 2:
        raise SourceError(f"{where}: record {index}: fewer than two options in columns A, B, …")
    answer = answers_of(fields.get(row, "answer", where, index), where, index)
    if answer[0] not in CHOICE_LETTERS[: len(choices)]:
        raise SourceError(
            f"{where}: record {index}: answer {answer[0]!r} is not an option letter A-"
            f"{CHOICE_LETTERS[len(choices) - 1]}"
        )
    question = str(fields.get(row, "question", where, index)).strip()
    hint = fields.opt(row, "hint")
    if not is_missing(hint) and str(hint).strip().lower() != "nan":
        question = f"{str(hint).strip()}\n{question}"
    rendered = render_choices(question, choices)
    return {
        "question": join_suffix(rendered, spec.choice_suffix or spec.prompt_suffix, "\n"),
        "answers": answer[:1],
        "choices": choices,
    }


_COMMON = {"question": ("question",), "image": ("image",)}
PROBES: dict[str, Probe] = {
    "chartqa": Probe(
        "chartqa/data/test-*.parquet",
        {**_COMMON, "answer": ("answer",)},
        _open,
        row_ids=True,
    ),
    "docvqa": Probe(
        "docvqa/DocVQA/validation-*.parquet",
        {**_COMMON, "id": ("questionId", "question_id"), "answer": ("answers", "answer")},
        _open,
    ),
    "mmbench": Probe(
        "mmbench/en/dev-*.parquet",
        {**_COMMON, "id": ("index",), "answer": ("answer",), "hint": ("hint",)},
        _mmbench,
    ),
}


def _probe_files(
    raw_dir: Path, probe: Probe, options: Mapping[str, Any], task: str, split: str
) -> list[Any]:
    pattern = per_split(options.get("files"), split, probe.files)
    return require_files(raw_dir, [pattern], f"the {task} {split} Parquet files")


def _image(value: Any, images: Images, name: str, where: str, index: int) -> str:
    data = value.get("bytes") if isinstance(value, dict) else value
    if not isinstance(data, bytes) or not data:
        raise SourceError(
            f"{where}: record {index}: expected embedded image bytes (an image column with "
            f"bytes), found {type(value).__name__}"
        )
    return images.from_bytes(data, name, where, index)


def _probe_records(request: SourceRequest, task: str, split: str, kind: str) -> Iterator[Record]:
    spec = request.tasks[task]
    options = task_options(request, task)
    probe = PROBES[kind]
    raw_dir = raw_root(request, "routing")
    fields = Fields.of_task(spec, probe.fields)
    images = Images(raw_dir, request.out_dir, verify=bool(options.get("verify_images", True)))
    counter = 0
    for rel in _probe_files(raw_dir, probe, options, task, split):
        where = rel.as_posix()
        for index, row in enumerate(iter_rows(raw_dir / rel, where)):
            if probe.row_ids:
                uid = f"{counter:06d}"
            else:
                uid = upstream_id(fields.get(row, "id", where, index), where, index)
            counter += 1
            built = probe.build(row, fields, where, index, spec)
            image = _image(
                fields.get(row, "image", where, index),
                images,
                f"{task}/{split}/{_UNSAFE.sub('_', uid)}",
                where,
                index,
            )
            yield Record.make(
                suite=request.suite,
                task=task,
                split=split,
                upstream_id=uid,
                scorer=spec.scorer,
                images=[image],
                meta=scalar_meta(row, fields.used(row) | set(CHOICE_LETTERS)),
                **built,
            )


def records(request: SourceRequest, task: str, split: str) -> Iterator[Record]:
    """A probe's records, or a specialised task's from the module it delegates to."""
    options = task_options(request, task)
    delegate, kind = options.get("delegate"), options.get("kind")
    if delegate is not None:
        if delegate == "routing":
            raise SuiteError(f"tasks.{task}.options.delegate: routing cannot delegate to itself")
        yield from load_source(str(delegate)).records(request, task, split)
    elif kind in PROBES:
        yield from _probe_records(request, task, split, kind)
    else:
        raise SuiteError(
            f"tasks.{task}.options: set kind ({', '.join(PROBES)}) for a probe, or delegate "
            "(a source module such as mllm_cl) for a specialised task"
        )
