"""CoIN (arXiv 2403.08350; zackschen/CoIN): eight tasks in LLaVA's instruction format, from
the hub dataset ``Zacks-Chen/CoIN``.

Expected layout (zackschen/CoIN@4122465: README.md, scripts/LLaVA/Eval/*.sh)::

    Instructions_Original/<Task>/test.json    (TextVQA, VizWiz, VQAv2: val.json)
    cl_dataset/<image path>                   the images (the scripts' --image-folder)
    cl_dataset/TextVQA/TextVQA_0.5.1_val.json TextVQA's ten answers per question

Test records: a JSON array of ``{question_id, image, text, answer}``; ``text`` is sent as is
(``<image>`` removed; ScienceQA records may have no image). Grounding records carry the
gold box as ``answer_bbox`` (a string ``[x1, y1, x2, y2]``, coordinates in [0, 1] of the
padded square image) and the image ``size``.

Task options: ``dirs``, ``files`` (as in ``ucit``), ``answer_field`` (the gold's field,
default ``answer``), ``annotation`` (``{files: [...], root: data, key: question_id,
answers: answers}``: gold answers from another file, TextVQA's ten), ``letter`` (gold answers
given as an option index become a letter), ``image_roots``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from benchmark.errors import SourceError, SuiteError
from benchmark.suites.records import CHOICE_LETTERS, Record
from benchmark.suites.sources import SourceRequest, TaskRequest
from benchmark.suites.sources.common import (
    UniqueIds,
    answers_of,
    find_file,
    is_missing,
    iter_rows,
    join_suffix,
    read_json,
    scalar_meta,
)
from benchmark.suites.sources.ucit import task_file  # UCIT's layout and record fields

VERIFIED = False  # layout from the authors' code and README; not checked against the hub

DEFAULT_IMAGE_ROOTS = ("cl_dataset", "")


def _annotation(raw_dir: Path, spec: TaskRequest, config: Any) -> tuple[str, dict[str, Any]]:
    """Gold answers kept in another file (TextVQA_0.5.1_val.json): key → answers."""
    if not isinstance(config, dict) or not config.get("files"):
        raise SuiteError(f"tasks.{spec.task}.options.annotation: expected {{files, key, answers}}")
    files = config["files"] if isinstance(config["files"], list) else [config["files"]]
    rel = find_file(raw_dir, files, f"the {spec.task} answer annotations")
    where = rel.as_posix()
    data = read_json(raw_dir / rel, where)
    root, key, field = config.get("root"), config.get("key", "question_id"), config["answers"]
    rows = data.get(root) if root and isinstance(data, dict) else data
    if not isinstance(rows, list):
        found = ", ".join(repr(k) for k in data) if isinstance(data, dict) else type(data).__name__
        raise SourceError(f"{where}: expected a list of records under {root!r}; found {found}")
    index: dict[str, Any] = {}
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or key not in row or field not in row:
            found = ", ".join(repr(k) for k in row) if isinstance(row, dict) else repr(row)
            raise SourceError(
                f"{where}: {root}[{i}] has no field {key!r} and {field!r}; found {found}"
            )
        index[str(row[key])] = row[field]
    return where, index


def _gold(
    row: Mapping[str, Any],
    uid: str,
    options: Mapping[str, Any],
    annotation: tuple[str, dict[str, Any]] | None,
    where: str,
    index: int,
) -> tuple[str, ...]:
    if annotation is not None:
        ann_where, answers = annotation
        if uid not in answers:
            raise SourceError(
                f"{where}: record {index} (question_id {uid!r}) has no answers in {ann_where}"
            )
        return answers_of(answers[uid], ann_where, index)
    field = str(options.get("answer_field", "answer"))
    if field not in row or is_missing(row[field]):
        found = ", ".join(repr(k) for k in list(row)[:20])
        raise SourceError(
            f"{where}: record {index} has no field {field!r} (the gold answer); found fields "
            f"{found}"
        )
    value = row[field]
    if options.get("letter") and isinstance(value, int) and 0 <= value < len(CHOICE_LETTERS):
        value = CHOICE_LETTERS[value]
    return answers_of(value, where, index)


def records(request: SourceRequest, task: str, split: str) -> Iterator[Record]:
    """The records of one CoIN task and split."""
    spec, options, raw_dir, fields, rel, images = task_file(
        request, task, split, "coin", DEFAULT_IMAGE_ROOTS
    )
    where = rel.as_posix()
    annotation = (
        _annotation(raw_dir, spec, options["annotation"]) if options.get("annotation") else None
    )
    unique = UniqueIds()
    for index, row in enumerate(iter_rows(raw_dir / rel, where)):
        uid, duplicate = unique.of_row(fields, row, where, index)
        question = fields.get(row, "question", where, index)
        if not isinstance(question, str) or not question.replace("<image>", "").strip():
            raise SourceError(f"{where}: record {index}: the question ('text') is empty")
        image = fields.opt(row, "image")
        placed = [] if is_missing(image) else [images.place(image, where, index)]
        meta = scalar_meta(row, fields.used(row) | {str(options.get("answer_field", ""))})
        if isinstance(row.get("size"), list):
            meta["size"] = json.dumps(row["size"])
        if annotation is not None:
            meta["references_file"] = annotation[0]
        yield Record.make(
            suite=request.suite,
            task=task,
            split=split,
            upstream_id=uid,
            question=join_suffix(question.replace("<image>", "").strip(), spec.prompt_suffix),
            answers=_gold(row, uid, options, annotation, where, index),
            scorer=spec.scorer,
            images=placed,
            meta=meta | {"source_file": where} | ({"duplicate_id": True} if duplicate else {}),
        )
