"""MLLM-CL (arXiv 2506.05453): the Domain and Ability suites, from ``MLLM-CL/MLLM-CL``.

Expected layout of the raw directory (archives already extracted by ``hub``)::

    Domain_data/{RS,Med,AD,Sci,Fin}/{images/, train.json, test.json}
    Ability_data/{OCR,Math,APP,VP}/{images/, train.json}
    Ability_data/{OCR,Math,APP,VP}_test/{images/, test.json}
    mathvista/data/testmini-*.parquet     (extra repo AI4Math/MathVista: Math gold answers)
    mmt-bench/MMT-Bench_ALL_MI_anno.tsv   (extra file: MMT-Bench's released test answers, GUI)

Train files hold LLaVA ``conversations`` (question = the human turn without ``<image>``,
answer = the gpt turn; turn pairs after the first get ``#<k>`` ids); test files hold
``{question_id, image, text, answer}``, ``text`` sent as is plus the task's suffix. Image
paths are relative to the JSON's folder (or to the data root above it, as in replay data).

Task options (YAML ``tasks.<id>.options``):

- ``dirs``: candidate folders (a list, or ``{split: [...]}``); the first holding the file wins,
  so current and older folder names both work.
- ``files``: ``{split: file name}`` (default ``train.json`` / ``test.json``).
- ``format``: ``{split: conversations | qa}`` (default: conversations for ``train``).
- ``rule``: which per-record rule picks scorer, suffix and answers: ``plain`` (the task's
  scorer and ``prompt_suffix``), ``sci`` (scorer by image-file prefix), ``fin`` (suffix by the
  gold answer), ``ocr`` (handwritten maths gets ``ocrbench_hme``), ``math`` and ``gui`` (gold
  answers from an annotation file, see ``annotation``).
- ``annotation``: ``{files: glob, key: column, id_prefix: str, fields: {...}}``.
- ``suffix_sep`` (default one space), ``verify_images`` (default true).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from benchmark.errors import SourceError, SuiteError
from benchmark.suites.records import CHOICE_LETTERS, Record
from benchmark.suites.sources import SourceRequest, TaskRequest
from benchmark.suites.sources.common import (
    Fields,
    Images,
    UniqueIds,
    answers_of,
    find_file,
    is_missing,
    iter_rows,
    join_suffix,
    per_split,
    raw_root,
    require_files,
    safe_relpath,
    scalar_meta,
    task_options,
)

VERIFIED = False  # layout from the authors' READMEs; not checked against the hub files

FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("question_id", "id"),
    "image": ("image",),
    "question": ("text",),
    "answer": ("answer",),
    "conversations": ("conversations",),
    "category": ("answer_type",),
}
ANNOTATION_FIELDS: dict[str, tuple[str, ...]] = {
    "answer": ("answer",),
    "choices": ("choices",),
    "question_type": ("question_type",),
    "answer_type": ("answer_type",),
    "precision": ("precision",),
    "unit": ("unit",),
}
DEFAULT_FILES = {"train": "train.json", "test": "test.json"}
HUMAN, GPT = ("human", "user"), ("gpt", "assistant")
SCI_EXACT_PREFIXES = ("AI2D", "TQA", "VQA", "SciVerse")
HME = "Handwritten Mathematical Expression Recognition"
_IMAGE_TOKEN = re.compile(r"\s*<image>\s*")


@dataclass
class Item:
    """One upstream record on its way to a Record."""

    upstream_id: str
    index: int
    image_names: list[str]
    images: list[str]
    question: str
    answers: tuple[str, ...]
    scorer: str
    suffix: str = ""
    choices: tuple[str, ...] | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Context:
    """What the rules need to know about the task and split being read."""

    request: SourceRequest
    spec: TaskRequest
    options: dict[str, Any]
    split: str
    fmt: str
    where: str
    raw_dir: Path
    annotation: Annotation | None = None

    @property
    def conversational(self) -> bool:
        """Conversations carry their own instructions: no suffix, no annotation lookup."""
        return self.fmt == "conversations"


# --------------------------------------------------------------------------- annotations


@dataclass(frozen=True)
class Annotation:
    """Gold answers kept outside the MLLM-CL test files, indexed by id."""

    where: str
    key: str
    id_prefix: str
    fields: Fields
    rows: dict[str, dict[str, Any]]

    def lookup(self, item: Item, ctx: Context) -> dict[str, Any]:
        key = item.upstream_id.removeprefix(self.id_prefix)
        row = self.rows.get(key)
        if row is None:
            raise SourceError(
                f"{ctx.where}: record {item.index} (id {item.upstream_id!r}) has no entry "
                f"with {self.key} = {key!r} in {self.where}"
            )
        return row


def _small(row: Mapping[str, Any]) -> dict[str, Any]:
    """Drop heavy columns (embedded images) from an annotation row."""
    return {
        k: v
        for k, v in row.items()
        if not isinstance(v, bytes | dict) and not (isinstance(v, str) and len(v) > 4096)
    }


def load_annotation(raw_dir: Path, spec: TaskRequest, config: Any) -> Annotation:
    """Read an annotation file (json, jsonl, parquet, tsv) into an index by its key column."""
    if not isinstance(config, dict) or "files" not in config:
        raise SuiteError(
            f"tasks.{spec.task}.options.annotation: expected {{files, key, id_prefix}}"
        )
    fields = Fields(
        ANNOTATION_FIELDS, config.get("fields", {}), f"tasks.{spec.task}.options.annotation.fields"
    )
    key = str(config.get("key", "id"))
    patterns = config["files"] if isinstance(config["files"], list) else [config["files"]]
    paths = require_files(raw_dir, patterns, f"the {spec.task} annotation file")
    where = ", ".join(p.as_posix() for p in paths)
    columns = [key, *{n for names in fields.names.values() for n in names}, *CHOICE_LETTERS]
    rows: dict[str, dict[str, Any]] = {}
    for path in paths:
        for index, row in enumerate(iter_rows(raw_dir / path, path.as_posix(), columns=columns)):
            value = row.get(key, row.get("__key__"))
            if is_missing(value):
                raise SourceError(
                    f"{path}: record {index} has no field {key!r} (the annotation key); found "
                    f"fields {', '.join(repr(k) for k in list(row)[:20])}"
                )
            rows[str(value).strip()] = _small(row)
    return Annotation(where, key, str(config.get("id_prefix", "")), fields, rows)


# --------------------------------------------------------------------------- rules


def _plain(item: Item, ctx: Context) -> None:
    item.suffix = ctx.spec.prompt_suffix


def _fin(item: Item, ctx: Context) -> None:
    """Items whose gold is exactly ``Yes`` or ``No`` (case-sensitive, as upstream's
    ``answer in ['Yes', 'No']`` in ``model_fin.py``) get ``prompt_suffix``; every other item
    (a letter, or "yes", "No." …) gets ``choice_suffix``."""
    yes_no = bool(item.answers) and item.answers[0] in ("Yes", "No")
    item.suffix = ctx.spec.prompt_suffix if yes_no else ctx.spec.choice_suffix


def _sci(item: Item, ctx: Context) -> None:
    """The image file's prefix (before the first ``_``) picks the rule, as upstream."""
    item.suffix = ctx.spec.prompt_suffix
    name = PurePosixPath(item.image_names[0]).name if item.image_names else ""
    prefix = name.split("_", 1)[0]
    exact = tuple(ctx.options.get("exact_prefixes", SCI_EXACT_PREFIXES))
    if prefix in exact:
        item.scorer = "mllmcl_sci_exact"
    elif "Which states" in item.question:
        item.scorer = "mllmcl_sci_mapqa_states"
    else:
        item.scorer = "mllmcl_substring"
    item.meta["sci_source"] = prefix if prefix in exact else "MapQA"


def _ocr(item: Item, ctx: Context) -> None:
    item.suffix = ctx.spec.prompt_suffix
    if item.meta.get("category") == HME:
        item.scorer = "ocrbench_hme"


def _annotation_gold(item: Item, ctx: Context) -> tuple[Annotation, dict[str, Any], str] | None:
    """The task's prompt suffix, then, for a qa item with an annotation file, the gold
    answer from it: (the annotation, the item's row, where it is for messages); else None."""
    item.suffix = ctx.spec.prompt_suffix
    if ctx.conversational or ctx.annotation is None:
        return None
    ann = ctx.annotation
    row = ann.lookup(item, ctx)
    where = f"{ann.where} (id {item.upstream_id})"
    item.answers = answers_of(ann.fields.get(row, "answer", where, item.index), where, 0)
    return ann, row, where


def _math(item: Item, ctx: Context) -> None:
    """MathVista testmini: answer, choices (multiple choice), answer type and precision."""
    found = _annotation_gold(item, ctx)
    if found is None:
        return
    ann, row, where = found
    qtype = ann.fields.opt(row, "question_type", "")
    choices = ann.fields.opt(row, "choices")
    if qtype == "multi_choice":
        if not isinstance(choices, list) or len(choices) < 2:
            raise SourceError(f"{where}: a multi_choice item with choices {choices!r}")
        item.choices = tuple(str(c) for c in choices)
    for name in ("question_type", "answer_type", "precision", "unit"):
        value = ann.fields.opt(row, name)
        if not is_missing(value):
            item.meta[name] = value


def _gui(item: Item, ctx: Context) -> None:
    """MMT-Bench: the option columns A, B, … and the gold letter."""
    found = _annotation_gold(item, ctx)
    if found is None:
        return
    _, row, where = found
    choices = []
    for letter in CHOICE_LETTERS:
        if is_missing(row.get(letter)):
            break
        choices.append(str(row[letter]))
    if len(choices) >= 2:
        item.choices = tuple(choices)
    if item.answers[0] not in CHOICE_LETTERS[: max(len(choices), 1)]:
        raise SourceError(
            f"{where}: gold answer {item.answers[0]!r} is not one of the option letters "
            f"{CHOICE_LETTERS[: len(choices)]!r}"
        )
    for name in ("category", "l2-category"):
        if not is_missing(row.get(name)):
            item.meta[name] = row[name]


@dataclass(frozen=True)
class Rule:
    apply: Callable[[Item, Context], None]
    annotated: bool = False  # test gold answers come from an annotation file


RULES: dict[str, Rule] = {
    "plain": Rule(_plain),
    "fin": Rule(_fin),
    "sci": Rule(_sci),
    "ocr": Rule(_ocr),
    "math": Rule(_math, annotated=True),
    "gui": Rule(_gui, annotated=True),
}


# --------------------------------------------------------------------------- reading


def _image_names(value: Any, where: str, index: int) -> list[str]:
    if is_missing(value):
        return []
    values = value if isinstance(value, list) else [value]
    return [safe_relpath(v, where, index) for v in values]


def _turn_pairs(conversations: Any, where: str, index: int) -> list[tuple[str, str]]:
    if not isinstance(conversations, list):
        raise SourceError(f"{where}: record {index}: 'conversations' is not a list of turns")
    pairs, pending = [], None
    for turn in conversations:
        role = turn.get("from", turn.get("role")) if isinstance(turn, dict) else None
        value = turn.get("value", turn.get("content")) if isinstance(turn, dict) else None
        if role in HUMAN:
            pending = value
        elif role in GPT and isinstance(pending, str) and isinstance(value, str):
            pairs.append((_IMAGE_TOKEN.sub(" ", pending).strip(), value.strip()))
            pending = None
    if not pairs:
        raise SourceError(
            f"{where}: record {index}: no human/gpt turn pair in 'conversations' "
            "(expected [{from: human, value}, {from: gpt, value}, ...])"
        )
    return pairs


def _conversation_items(
    rows: Iterator[dict[str, Any]], ctx: Context, fields: Fields, images: Images
) -> Iterator[Item]:
    unique = UniqueIds()
    for index, row in enumerate(rows):
        base, duplicate = unique.of_row(fields, row, ctx.where, index)
        names = _image_names(fields.opt(row, "image"), ctx.where, index)
        placed = [images.place(name, ctx.where, index) for name in names]
        meta = scalar_meta(row, fields.used(row)) | ({"duplicate_id": True} if duplicate else {})
        pairs = _turn_pairs(fields.get(row, "conversations", ctx.where, index), ctx.where, index)
        for turn, (question, answer) in enumerate(pairs):
            yield Item(
                upstream_id=base if turn == 0 else f"{base}#{turn}",
                index=index,
                image_names=names,
                images=placed,
                question=question,
                answers=answers_of(answer, ctx.where, index),
                scorer=ctx.spec.scorer,
                meta={**meta, "turn": turn} if len(pairs) > 1 else dict(meta),
            )


def _qa_items(
    rows: Iterator[dict[str, Any]],
    ctx: Context,
    fields: Fields,
    images: Images,
    annotated: bool,
) -> Iterator[Item]:
    unique = UniqueIds()
    for index, row in enumerate(rows):
        uid, duplicate = unique.of_row(fields, row, ctx.where, index)
        names = _image_names(fields.get(row, "image", ctx.where, index), ctx.where, index)
        question = fields.get(row, "question", ctx.where, index)
        if not isinstance(question, str) or not question.strip():
            raise SourceError(f"{ctx.where}: record {index}: the question is empty")
        answers = (
            ("",)
            if annotated
            else answers_of(fields.get(row, "answer", ctx.where, index), ctx.where, index)
        )
        meta = scalar_meta(row, fields.used(row))
        if (category := fields.opt(row, "category")) is not None:
            meta["category"] = category
        yield Item(
            upstream_id=uid,
            index=index,
            image_names=names,
            images=[images.place(name, ctx.where, index) for name in names],
            question=question.strip(),
            answers=answers,
            scorer=ctx.spec.scorer,
            meta=meta | ({"duplicate_id": True} if duplicate else {}),
        )


def _rule(spec: TaskRequest, options: Mapping[str, Any]) -> Rule:
    name = options.get("rule", "plain")
    if name not in RULES:
        raise SuiteError(
            f"tasks.{spec.task}.options.rule: unknown rule {name!r}; known: {', '.join(RULES)}"
        )
    return RULES[name]


def _locate(
    raw_dir: Path, spec: TaskRequest, options: Mapping[str, Any], split: str
) -> PurePosixPath:
    dirs = per_split(options.get("dirs"), split)
    if not dirs:
        raise SuiteError(f"tasks.{spec.task}.options.dirs: no folder given for split {split!r}")
    dirs = [dirs] if isinstance(dirs, str) else list(dirs)
    name = per_split(options.get("files"), split, DEFAULT_FILES.get(split, f"{split}.json"))
    return find_file(raw_dir, [f"{d}/{name}" for d in dirs], f"the {spec.task} {split} records")


def records(request: SourceRequest, task: str, split: str) -> Iterator[Record]:
    """The records of one MLLM-CL task and split (images placed in the suite directory)."""
    spec = request.tasks[task]
    options = task_options(request, task)
    raw_dir = raw_root(request, "mllm_cl")
    rule = _rule(spec, options)
    rel = _locate(raw_dir, spec, options, split)
    fmt = per_split(options.get("format"), split, "conversations" if split == "train" else "qa")
    if fmt not in ("conversations", "qa"):
        raise SuiteError(f"tasks.{task}.options.format: {fmt!r} is not conversations or qa")
    ctx = Context(request, spec, options, split, fmt, rel.as_posix(), raw_dir)
    if rule.annotated and fmt == "qa":
        ctx.annotation = load_annotation(raw_dir, spec, options.get("annotation"))
    fields = Fields.of_task(spec, FIELDS)
    images = Images(raw_dir, request.out_dir, verify=bool(options.get("verify_images", True)))
    rows = iter_rows(raw_dir / rel, ctx.where)
    if fmt == "conversations":
        items = _conversation_items(rows, ctx, fields, images)
    else:
        items = _qa_items(rows, ctx, fields, images, rule.annotated)
    sep = str(options.get("suffix_sep", " "))
    for item in items:
        rule.apply(item, ctx)
        question = (
            item.question if ctx.conversational else join_suffix(item.question, item.suffix, sep)
        )
        yield Record.make(
            suite=request.suite,
            task=task,
            split=split,
            upstream_id=item.upstream_id,
            question=question,
            answers=item.answers,
            scorer=item.scorer,
            images=item.images,
            choices=item.choices,
            meta=item.meta,
        )
