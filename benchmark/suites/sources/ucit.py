"""UCIT (HiDe-LLaVA, arXiv 2503.12941): six tasks with little overlap with LLaVA-1.5's
instruction data, from the hub dataset ``MLLM-CL/UCIT`` (first ``HaiyangGuo/UCIT``).

Expected layout (both namings of the authors' code are accepted through the YAML's ``dirs``
and ``files``)::

    <Task>/test_3000.json              HiDe-LLaVA's names (Ghy0501/HiDe-LLaVA README)
    <Task>/test.json                   MCITlib's names (configs/data_configs/UCIT/*.json)
    <Task>/val_coco_type_3000.json     caption tasks: the reference captions, COCO format
    datasets/<image path>              the images (MCITlib's ``image_folder``)

Test records: a JSON array of ``{question_id, image, text, answer}``; ``text`` is sent as is
(the authors' instructions are in it, as their ``model_answer.py`` does). Images are named
relative to the image folder: ``image_roots`` (default ``datasets``, ``UCIT/datasets``, the
top folder) are tried in turn.

Caption tasks (option ``references``): the answers are the reference captions of the COCO
file, joined by position as the authors' ``eval_caption.py`` does (the i-th prediction of the
test file gets ``image_id`` i + 1). Their evaluation needs the COCO file to hold exactly the
test file's images, so a file with another count is refused, naming both counts (the hub's
VizWiz captions held 2,999 ids for 3,000 questions until they were fixed in place on
2025-10-28); where ``images[]`` names a ``file_name``, it must be the test record's image
file name, so a reordered file is caught too.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

from benchmark.errors import SourceError, SuiteError
from benchmark.suites.records import Record
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
    read_json,
    safe_relpath,
    scalar_meta,
    task_options,
)

VERIFIED = False  # layout from the authors' code and READMEs; not checked against the hub

FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("question_id", "id"),
    "image": ("image",),
    "question": ("text", "question"),
    "answer": ("answer",),
}
DEFAULT_FILES = {"test": ["test_3000.json", "test.json"]}
DEFAULT_IMAGE_ROOTS = ("datasets", "UCIT/datasets", "")
_IMAGE_TOKEN = re.compile(r"\s*<image>\s*")


def candidates(spec: TaskRequest, options: Mapping[str, Any], key: str, split: str) -> list[str]:
    dirs = options.get("dirs")
    if not dirs:
        raise SuiteError(f"tasks.{spec.task}.options.dirs: no folder given")
    dirs = [dirs] if isinstance(dirs, str) else list(dirs)
    names = per_split(options.get(key), split, DEFAULT_FILES.get(split, [f"{split}.json"]))
    names = [names] if isinstance(names, str) else list(names)
    return [f"{d}/{n}" for d in dirs for n in names]


class ImageFolder:
    """Image names of the records, resolved under the first image root that holds them."""

    def __init__(self, raw_dir: Path, images: Images, roots: list[str]) -> None:
        self.raw_dir, self.images, self.roots = raw_dir, images, roots

    def place(self, value: Any, where: str, index: int) -> str:
        name = safe_relpath(value, where, index)
        for root in self.roots:
            rel = posixpath.join(root, name) if root else name
            if (self.raw_dir / rel).is_file():
                return self.images.place(rel, "", index)
        looked = ", ".join(f"{r}/" if r else "the top folder" for r in self.roots)
        raise SourceError(f"{where}: record {index}: image {name!r} not found under {looked}")


class TaskFile(NamedTuple):
    """A task's records file in the authors' layout (UCIT's, which CoIN shares) and what
    reading it takes: the task, its options and fields, and the image folders."""

    spec: TaskRequest
    options: dict[str, Any]
    raw_dir: Path
    fields: Fields
    rel: PurePosixPath
    images: ImageFolder


def task_file(
    request: SourceRequest, task: str, split: str, module: str, image_roots: Sequence[str]
) -> TaskFile:
    """Locate one task's records file for a split (options ``dirs``, ``files``); the images
    are looked up under the options' ``image_roots`` (default ``image_roots``)."""
    spec = request.tasks[task]
    options = task_options(request, task)
    raw_dir = raw_root(request, module)
    fields = Fields.of_task(spec, FIELDS)
    rel = find_file(
        raw_dir, candidates(spec, options, "files", split), f"the {task} {split} records"
    )
    roots = [str(r).strip("/") for r in options.get("image_roots", image_roots)]
    verify = bool(options.get("verify_images", True))
    images = ImageFolder(raw_dir, Images(raw_dir, request.out_dir, verify=verify), roots)
    return TaskFile(spec, options, raw_dir, fields, rel, images)


def _references(raw_dir: Path, rel: PurePosixPath) -> tuple[dict[int, list[str]], dict[int, str]]:
    """COCO captions: image_id → captions, and image_id → file_name where images[] names one."""
    where = rel.as_posix()
    coco = read_json(raw_dir / rel, where)
    if not isinstance(coco, dict) or not isinstance(coco.get("annotations"), list):
        found = ", ".join(repr(k) for k in coco) if isinstance(coco, dict) else type(coco).__name__
        raise SourceError(
            f"{where}: expected a COCO caption file, one JSON object with 'annotations' "
            f"(and 'images'); found {found or 'an empty object'}"
        )
    captions: dict[int, list[str]] = {}
    for index, ann in enumerate(coco.get("annotations") or []):
        if not isinstance(ann, dict) or "image_id" not in ann or "caption" not in ann:
            found = ", ".join(repr(k) for k in ann) if isinstance(ann, dict) else repr(ann)
            raise SourceError(
                f"{where}: annotations[{index}] has no field 'image_id' and 'caption'; "
                f"found {found}"
            )
        if not is_missing(ann["caption"]) and str(ann["caption"]).strip():
            captions.setdefault(int(ann["image_id"]), []).append(str(ann["caption"]).strip())
    names = {
        int(image["id"]): str(image["file_name"])
        for image in coco.get("images") or []
        if isinstance(image, dict) and "id" in image and image.get("file_name")
    }
    ids = set(names) | set(captions)
    if not ids:
        raise SourceError(f"{where}: no reference caption in 'annotations'")
    return captions, names


def _check_references(
    captions: dict[int, list[str]], names: dict[int, str], n_items: int, where: str, test: str
) -> None:
    ids = set(names) | set(captions)
    if ids != set(range(1, n_items + 1)):
        raise SourceError(
            f"{where}: reference captions for {len(ids)} image ids, but {test} has {n_items} "
            f"questions; the authors' eval_caption.py pairs the i-th answer with image_id i+1, "
            f"so both must hold the same images (the hub's VizWiz captions held 2,999 ids for "
            "3,000 questions until revised on 2025-10-28: prepare from a later revision)"
        )
    empty = sorted(i for i in ids if not captions.get(i))
    if empty:
        raise SourceError(f"{where}: image_id {empty[0]} has no reference caption")


def records(request: SourceRequest, task: str, split: str) -> Iterator[Record]:
    """The records of one UCIT task and split."""
    spec, options, raw_dir, fields, rel, images = task_file(
        request, task, split, "ucit", DEFAULT_IMAGE_ROOTS
    )
    where = rel.as_posix()
    rows = list(iter_rows(raw_dir / rel, where))
    captions: dict[int, list[str]] | None = None
    names: dict[int, str] = {}
    ref_where = None
    if options.get("references"):
        ref_rel = find_file(
            raw_dir,
            candidates(spec, options, "references", split),
            f"the {task} reference captions (COCO format)",
        )
        ref_where = ref_rel.as_posix()
        captions, names = _references(raw_dir, ref_rel)
        _check_references(captions, names, len(rows), ref_where, where)
    unique = UniqueIds()
    for index, row in enumerate(rows):
        uid, duplicate = unique.of_row(fields, row, where, index)
        image_value = fields.get(row, "image", where, index)
        question = fields.get(row, "question", where, index)
        if not isinstance(question, str) or not question.strip():
            raise SourceError(f"{where}: record {index}: the question ('text') is empty")
        meta = scalar_meta(row, fields.used(row)) | {"source_file": where}
        if captions is not None:
            image_id = index + 1
            expected = names.get(image_id)
            own = PurePosixPath(str(image_value)).name
            if expected is not None and PurePosixPath(expected).name != own:
                raise SourceError(
                    f"{ref_where}: image_id {image_id} is {expected!r}, but record {index} of "
                    f"{where} shows {own!r}; the two files are not in the same order"
                )
            answers = tuple(captions[image_id])
            meta |= {"references_file": ref_where, "image_id": image_id}
        else:
            answers = answers_of(fields.get(row, "answer", where, index), where, index)
        yield Record.make(
            suite=request.suite,
            task=task,
            split=split,
            upstream_id=uid,
            question=join_suffix(_IMAGE_TOKEN.sub(" ", question).strip(), spec.prompt_suffix),
            answers=answers,
            scorer=spec.scorer,
            images=[images.place(image_value, where, index)],
            meta=meta | ({"duplicate_id": True} if duplicate else {}),
        )
