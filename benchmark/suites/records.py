"""The uniform Record every upstream dataset is normalised into, and its Parquet I/O.

One Parquet file per (task, split), stored in the suite's data directory next to the
images the records reference (paths relative to that directory). Writing is streamed in
row groups, so a source can emit millions of records in constant memory, and is
byte-reproducible: the same records give the same file.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from benchmark.errors import RecordError

ARROW_SCHEMA = pa.schema(
    [
        pa.field("uid", pa.string(), nullable=False),
        pa.field("suite", pa.string(), nullable=False),
        pa.field("task", pa.string(), nullable=False),
        pa.field("split", pa.string(), nullable=False),
        pa.field("images", pa.list_(pa.string()), nullable=False),
        pa.field("question", pa.string(), nullable=False),
        pa.field("choices", pa.list_(pa.string()), nullable=True),
        pa.field("answers", pa.list_(pa.string()), nullable=False),
        pa.field("scorer", pa.string(), nullable=False),
        pa.field("meta", pa.string(), nullable=False),
    ]
)
FIELDS: tuple[str, ...] = tuple(ARROW_SCHEMA.names)
_ROW_GROUP = 4096
CHOICE_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True, slots=True)
class Record:
    """One evaluation (or training) item; see DESIGN.md, "The uniform Record"."""

    uid: str
    suite: str
    task: str
    split: str
    images: tuple[str, ...]
    question: str
    choices: tuple[str, ...] | None
    answers: tuple[str, ...]
    scorer: str
    meta: str = "{}"

    @classmethod
    def make(
        cls,
        *,
        suite: str,
        task: str,
        split: str,
        upstream_id: str,
        question: str,
        answers: Iterable[str],
        scorer: str,
        images: Iterable[str] = (),
        choices: Iterable[str] | None = None,
        meta: dict[str, Any] | None = None,
    ) -> Record:
        """Build a record with its uid (``suite/task/split/<upstream id>``) and JSON meta."""
        return cls(
            uid=f"{suite}/{task}/{split}/{upstream_id}",
            suite=suite,
            task=task,
            split=split,
            images=tuple(images),
            question=question,
            choices=None if choices is None else tuple(choices),
            answers=tuple(answers),
            scorer=scorer,
            meta=json.dumps(meta or {}, sort_keys=True, ensure_ascii=False),
        )

    @property
    def meta_dict(self) -> dict[str, Any]:
        return json.loads(self.meta)

    def to_row(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "suite": self.suite,
            "task": self.task,
            "split": self.split,
            "images": list(self.images),
            "question": self.question,
            "choices": None if self.choices is None else list(self.choices),
            "answers": list(self.answers),
            "scorer": self.scorer,
            "meta": self.meta,
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Record:
        choices = row["choices"]
        return cls(
            uid=row["uid"],
            suite=row["suite"],
            task=row["task"],
            split=row["split"],
            images=tuple(row["images"] or ()),
            question=row["question"],
            choices=None if choices is None else tuple(choices),
            answers=tuple(row["answers"] or ()),
            scorer=row["scorer"],
            meta=row["meta"],
        )

    def canonical_json(self) -> str:
        """The record as one canonical JSON line: what the task hash is computed over."""
        return json.dumps(self.to_row(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def render_choices(question: str, choices: Iterable[str]) -> str:
    """Append lettered options to a question, one per line (``A. text``)."""
    lines = [question.rstrip()]
    for letter, text in zip(CHOICE_LETTERS, choices, strict=False):
        lines.append(f"{letter}. {text}")
    return "\n".join(lines)


def check_record(
    record: Record,
    *,
    where: str,
    index: int,
    data_dir: Path | None = None,
    known_scorers: Collection[str] | None = None,
) -> None:
    """Raise RecordError naming ``where`` (a file) and the record when one field is invalid."""

    def fail(message: str) -> RecordError:
        return RecordError(f"{where}: record {index} (uid {record.uid!r}): {message}")

    for name in ("uid", "suite", "task", "split", "scorer"):
        value = getattr(record, name)
        if not isinstance(value, str) or not value.strip():
            raise fail(f"field {name!r} is empty")
    prefix = f"{record.suite}/{record.task}/{record.split}/"
    if not record.uid.startswith(prefix) or len(record.uid) == len(prefix):
        raise fail(f"uid must look like '{prefix}<upstream id>'")
    if not record.question.strip():
        raise fail("field 'question' is empty")
    if not record.answers or any(not isinstance(a, str) for a in record.answers):
        raise fail("field 'answers' is empty: every record needs at least one gold answer")
    if record.choices is not None:
        if len(record.choices) < 2:
            raise fail("field 'choices' needs at least two options (or null)")
        if len(record.choices) > len(CHOICE_LETTERS):
            raise fail(f"field 'choices' has {len(record.choices)} options; at most 26")
    if known_scorers is not None and record.scorer not in known_scorers:
        raise fail(f"unknown scorer {record.scorer!r}; known: {', '.join(sorted(known_scorers))}")
    try:
        meta = json.loads(record.meta)
    except json.JSONDecodeError as exc:
        raise fail(f"field 'meta' is not valid JSON ({exc.msg})") from None
    if not isinstance(meta, dict):
        raise fail("field 'meta' must be a JSON object")
    for image in record.images:
        path = Path(image)
        if path.is_absolute() or ".." in path.parts:
            raise fail(f"image path {image!r} must be relative to the suite directory")
        if data_dir is not None and not (data_dir / path).is_file():
            raise fail(f"image file {image!r} is missing (looked in {data_dir})")


def validate_records(
    records: Iterable[Record],
    *,
    where: str,
    data_dir: Path | None = None,
    known_scorers: Collection[str] | None = None,
) -> int:
    """Check every record and uid uniqueness; return the count. Raises RecordError."""
    seen: dict[str, int] = {}
    count = 0
    for index, record in enumerate(records):
        check_record(
            record, where=where, index=index, data_dir=data_dir, known_scorers=known_scorers
        )
        if record.uid in seen:
            raise RecordError(
                f"{where}: record {index}: duplicate uid {record.uid!r} "
                f"(first seen at record {seen[record.uid]})"
            )
        seen[record.uid] = index
        count += 1
    return count


class RecordWriter:
    """Stream records into one Parquet file, row group by row group.

    Writes to ``<path>.partial`` and renames on a clean close, so a crash never leaves a
    truncated file under the final name. Each record is validated as it arrives
    (uids unique within the file).
    """

    def __init__(
        self,
        path: Path,
        *,
        data_dir: Path | None = None,
        known_scorers: Collection[str] | None = None,
        on_record: Callable[[Record], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self._partial = self.path.with_name(self.path.name + ".partial")
        self._data_dir = data_dir
        self._known_scorers = known_scorers
        self._on_record = on_record
        self._buffer: list[Record] = []
        self._seen: dict[str, int] = {}
        self._writer: pq.ParquetWriter | None = None
        self.count = 0
        self.hasher = hashlib.sha256()

    def __enter__(self) -> RecordWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = pq.ParquetWriter(
            self._partial,
            ARROW_SCHEMA,
            compression="zstd",
            write_statistics=False,
            store_schema=True,
        )
        return self

    def write(self, record: Record) -> None:
        check_record(
            record,
            where=str(self.path),
            index=self.count,
            data_dir=self._data_dir,
            known_scorers=self._known_scorers,
        )
        if record.uid in self._seen:
            raise RecordError(
                f"{self.path}: record {self.count}: duplicate uid {record.uid!r} "
                f"(first seen at record {self._seen[record.uid]})"
            )
        self._seen[record.uid] = self.count
        self.hasher.update(record.canonical_json().encode("utf-8"))
        self.hasher.update(b"\n")
        self._buffer.append(record)
        self.count += 1
        if self._on_record is not None:
            self._on_record(record)
        if len(self._buffer) >= _ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        if not self._buffer or self._writer is None:
            return
        table = pa.Table.from_pylist([r.to_row() for r in self._buffer], schema=ARROW_SCHEMA)
        self._writer.write_table(table, row_group_size=_ROW_GROUP)
        self._buffer.clear()

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if exc_type is None:
                self._flush()
        finally:
            if self._writer is not None:
                self._writer.close()
        if exc_type is None:
            os.replace(self._partial, self.path)
        else:
            self._partial.unlink(missing_ok=True)

    @property
    def records_sha256(self) -> str:
        """sha256 over the canonical JSON lines of the records written, in order."""
        return self.hasher.hexdigest()


def write_records(path: Path, records: Iterable[Record], **kwargs: Any) -> int:
    """Write records to a Parquet file (validated, atomically); return the count."""
    with RecordWriter(path, **kwargs) as writer:
        for record in records:
            writer.write(record)
    return writer.count


def _open(path: Path) -> pq.ParquetFile:
    path = Path(path)
    if not path.is_file():
        raise RecordError(f"{path}: records file not found")
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise RecordError(f"{path}: not a readable Parquet file ({exc})") from None
    names = pf.schema_arrow.names
    missing = [name for name in FIELDS if name not in names]
    if missing:
        raise RecordError(f"{path}: not a records file; missing field(s) {', '.join(missing)}")
    return pf


def iter_records(path: Path, *, batch_size: int = _ROW_GROUP) -> Iterator[Record]:
    """Stream the records of a Parquet file in order."""
    pf = _open(path)
    for batch in pf.iter_batches(batch_size=batch_size, columns=list(FIELDS)):
        for row in batch.to_pylist():
            yield Record.from_row(row)


def read_records(path: Path) -> list[Record]:
    """Read every record of a Parquet file."""
    return list(iter_records(path))


def check_records_file(
    path: Path,
    *,
    data_dir: Path | None = None,
    known_scorers: Collection[str] | None = None,
) -> int:
    """Validate a records file written by anyone (uids, answers, images, scorers)."""
    return validate_records(
        iter_records(path), where=str(path), data_dir=data_dir, known_scorers=known_scorers
    )


def read_table(path: Path) -> pa.Table:
    """The records file as an Arrow table (for pandas / datasets users)."""
    return _open(path).read(columns=list(FIELDS))
