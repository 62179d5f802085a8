"""What the upstream loaders share: rows streamed from raw files, field names with YAML
overrides, safe image paths, images placed in the suite directory, and locating files.

Every problem with the upstream files is a ``SourceError`` of one line that names the file
(by its path in the raw directory, i.e. in the hub repo or mirror), what was expected and
what was found.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import posixpath
import re
import shutil
import stat
import sys
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image, UnidentifiedImageError

from benchmark.errors import SourceError, SuiteError
from benchmark.suites.sources import SourceRequest, TaskRequest

_CHUNK = 1 << 20
_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
ROW_FORMATS = (".json", ".jsonl", ".parquet", ".tsv", ".csv")


# --------------------------------------------------------------------------- regular files

_KINDS = (
    (stat.S_ISDIR, "folder"),
    (stat.S_ISFIFO, "FIFO"),
    (stat.S_ISCHR, "character device"),
    (stat.S_ISBLK, "block device"),
    (stat.S_ISSOCK, "socket"),
)


def file_kind(mode: int) -> str:
    """What a non-regular file is, in words (for messages)."""
    return next((name for test, name in _KINDS if test(mode)), "special file")


def open_regular(path: Path, where: str) -> IO[bytes]:
    """A raw file opened for reading, refused unless it is a regular file: a FIFO would block
    forever and a device never end. Opened without blocking, then checked with ``fstat``."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise SourceError(f"{where}: cannot open ({exc.strerror})") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise SourceError(f"{where}: is a {file_kind(mode)}, not a regular file")
    return open(fd, "rb")


# --------------------------------------------------------------------------- rows


class _JsonStream:
    """Decode JSON values one at a time from a text file read in chunks (constant memory)."""

    def __init__(self, handle: io.TextIOBase, where: str) -> None:
        self.handle, self.where = handle, where
        self.buf, self.pos, self.offset, self.eof = "", 0, 0, False

    def _fill(self) -> bool:
        if self.eof:
            return False
        chunk = self.handle.read(max(_CHUNK, len(self.buf) - self.pos))
        if not chunk:
            self.eof = True
            return False
        self.offset += self.pos
        self.buf, self.pos = self.buf[self.pos :] + chunk, 0
        return True

    def peek(self) -> str | None:
        """The next non-whitespace character (not consumed), None at the end of the file."""
        while True:
            self.pos = _WS.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._fill():
                return None

    def take(self) -> None:
        self.pos += 1

    def value(self) -> Any:
        self.peek()  # raw_decode does not skip leading whitespace
        while True:
            try:
                obj, end = _DECODER.raw_decode(self.buf, self.pos)
            except RecursionError:
                raise SourceError(
                    f"{self.where}: invalid JSON at character {self.offset + self.pos}: nested "
                    "deeper than Python can decode"
                ) from None
            except json.JSONDecodeError as exc:
                # an error at the end of the buffer may only mean the value goes on
                maybe_cut = exc.pos >= len(self.buf) - 8 or exc.msg.startswith("Unterminated")
                if maybe_cut and self._fill():
                    continue
                at_end = exc.pos >= len(self.buf) or exc.msg.startswith("Unterminated")
                cut = " (the file is truncated)" if at_end else ""
                raise SourceError(
                    f"{self.where}: invalid JSON at character {self.offset + exc.pos}: "
                    f"{exc.msg}{cut}"
                ) from None
            if end == len(self.buf) and self._fill():
                continue  # a number or literal may go on in the next chunk
            self.pos = end
            return obj

    def fail(self, expected: str, found: str | None) -> SourceError:
        what = "the end of the file (truncated?)" if found is None else repr(found)
        return SourceError(
            f"{self.where}: invalid JSON at character {self.offset + self.pos}: expected "
            f"{expected}, found {what}"
        )


def _array_items(stream: _JsonStream) -> Iterator[Any]:
    stream.take()  # '['
    if stream.peek() == "]":
        stream.take()
    else:
        while True:
            yield stream.value()
            found = stream.peek()
            if found == ",":
                stream.take()
                continue
            if found != "]":
                raise stream.fail("',' or ']' after an array item", found)
            stream.take()
            break
    if (extra := stream.peek()) is not None:
        raise stream.fail("nothing after the closing ']'", extra)


def _object_items(stream: _JsonStream) -> Iterator[Any]:
    """One object: a mapping id → record (yielded with ``__key__``); several: JSON lines."""
    first = stream.value()
    if stream.peek() is not None:  # JSON lines (or concatenated JSON values)
        yield first
        while stream.peek() is not None:
            yield stream.value()
        return
    if not all(isinstance(v, dict) for v in first.values()):
        raise SourceError(
            f"{stream.where}: expected a JSON array of records, JSON lines, or an object of "
            "records keyed by id; found an object whose values are not all objects"
        )
    for key, value in first.items():
        yield {"__key__": key, **value}


def iter_json(path: Path, where: str) -> Iterator[Any]:
    """The records of a JSON array, JSON-lines file, or object of records keyed by id."""
    try:
        with io.TextIOWrapper(open_regular(path, where), encoding="utf-8-sig") as handle:
            stream = _JsonStream(handle, where)
            first = stream.peek()
            if first == "[":
                yield from _array_items(stream)
            elif first == "{":
                yield from _object_items(stream)
            else:
                raise stream.fail("'[' (a JSON array) or '{' (JSON lines)", first)
    except UnicodeDecodeError as exc:
        raise SourceError(f"{where}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def read_json(path: Path, where: str) -> Any:
    """A whole JSON file read at once (an annotation or caption file, not a record stream)."""
    try:
        with open_regular(path, where) as handle:
            return json.loads(handle.read().decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise SourceError(f"{where}: not a readable JSON file ({exc})") from None


def _iter_parquet(path: Path, where: str, columns: Sequence[str] | None) -> Iterator[dict]:
    try:
        with open_regular(path, where) as handle:
            pf = pq.ParquetFile(handle)
            names = pf.schema_arrow.names
            keep = [c for c in columns if c in names] if columns is not None else None
            for batch in pf.iter_batches(batch_size=256, columns=keep):
                yield from batch.to_pylist()
    except (pa.ArrowException, OSError) as exc:
        raise SourceError(f"{where}: not a readable Parquet file ({exc})") from None


def _iter_delimited(path: Path, where: str, delimiter: str) -> Iterator[dict]:
    csv.field_size_limit(sys.maxsize)  # VLMEvalKit-style TSVs carry base64 images
    try:
        with io.TextIOWrapper(
            open_regular(path, where), encoding="utf-8-sig", newline=""
        ) as handle:
            reader = csv.DictReader(handle, delimiter=delimiter)
            if not reader.fieldnames:
                raise SourceError(f"{where}: empty file; expected a header row")
            yield from reader
    except (csv.Error, UnicodeDecodeError) as exc:
        raise SourceError(f"{where}: unreadable table ({exc})") from None


def iter_rows(
    path: Path, where: str, *, columns: Sequence[str] | None = None
) -> Iterator[dict[str, Any]]:
    """Stream the records of a raw file (.json, .jsonl, .parquet, .tsv, .csv) as dicts.

    ``where`` names the file in messages; ``columns`` limits what Parquet files read.
    """
    suffix = path.suffix.lower()
    if suffix in (".json", ".jsonl"):
        rows: Iterator[Any] = iter_json(path, where)
    elif suffix == ".parquet":
        rows = _iter_parquet(path, where, columns)
    elif suffix in (".tsv", ".csv"):
        rows = _iter_delimited(path, where, "\t" if suffix == ".tsv" else ",")
    else:
        raise SourceError(f"{where}: unknown file type; expected one of {', '.join(ROW_FORMATS)}")
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise SourceError(
                f"{where}: record {index} is a JSON {type(row).__name__}; expected an object"
            )
        yield row


# --------------------------------------------------------------------------- fields


class Fields:
    """Logical field names → upstream field names, with the suite YAML's ``fields:`` on top.

    Defaults may list alternatives (the first present wins); an override names exactly one.
    """

    def __init__(
        self,
        defaults: Mapping[str, str | Sequence[str]],
        overrides: Mapping[str, str],
        yaml_path: str,
    ) -> None:
        """``yaml_path`` is where the overrides live in the suite YAML (for messages)."""
        unknown = sorted(set(overrides) - set(defaults))
        if unknown:
            raise SuiteError(
                f"{yaml_path}: unknown name(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(defaults))}"
            )
        self.yaml_path = yaml_path
        self.names: dict[str, tuple[str, ...]] = {
            key: (str(overrides[key]),)
            if key in overrides
            else ((value,) if isinstance(value, str) else tuple(value))
            for key, value in defaults.items()
        }

    @classmethod
    def of_task(cls, task: TaskRequest, defaults: Mapping[str, str | Sequence[str]]) -> Fields:
        """The task's field names: ``defaults`` with ``tasks.<id>.fields`` on top."""
        return cls(defaults, task.fields, f"tasks.{task.task}.fields")

    def key(self, row: Mapping[str, Any], name: str) -> str | None:
        return next((k for k in self.names[name] if k in row), None)

    def get(self, row: Mapping[str, Any], name: str, where: str, index: int) -> Any:
        """The value of a required field; SourceError naming file, record and fields found."""
        key = self.key(row, name)
        if key is None:
            wanted = " or ".join(repr(k) for k in self.names[name])
            found = ", ".join(repr(k) for k in list(row)[:20]) or "none"
            raise SourceError(
                f"{where}: record {index} has no field {wanted} (the {name}); found fields "
                f"{found}; if upstream renamed it, set {self.yaml_path}.{name} in the suite YAML"
            )
        return row[key]

    def opt(self, row: Mapping[str, Any], name: str, default: Any = None) -> Any:
        key = self.key(row, name)
        return default if key is None else row[key]

    def used(self, row: Mapping[str, Any]) -> set[str]:
        return {k for names in self.names.values() for k in names if k in row}


def is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value == ""


def scalar_meta(row: Mapping[str, Any], skip: set[str]) -> dict[str, Any]:
    """Upstream fields worth keeping in ``meta``: the small scalar ones not used already."""
    keep: dict[str, Any] = {}
    for key, value in row.items():
        if key in skip or key.startswith("__") or is_missing(value):
            continue
        small = not isinstance(value, str) or len(value) <= 500
        number = isinstance(value, bool | int) or (
            isinstance(value, float) and math.isfinite(value)
        )
        if small and (number or isinstance(value, str)):
            keep[key] = value
    return keep


def answers_of(value: Any, where: str, index: int) -> tuple[str, ...]:
    """Gold answers from a string, number or list; SourceError when there is none."""
    items = value if isinstance(value, list | tuple) else [value]
    answers = tuple(str(a).strip() for a in items if not is_missing(a))
    if not answers or not all(answers):
        raise SourceError(f"{where}: record {index} has no gold answer (found {value!r})")
    return answers


def upstream_id(value: Any, where: str, index: int) -> str:
    text = "" if is_missing(value) else str(value).strip()
    if not text:
        raise SourceError(f"{where}: record {index} has an empty id")
    return text


class UniqueIds:
    """Upstream ids made unique: a repeated id becomes ``<id>@<record index>``."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def __call__(self, uid: str, index: int) -> tuple[str, bool]:
        if uid in self.seen:
            uid = f"{uid}@{index}"
            duplicate = True
        else:
            duplicate = False
        self.seen.add(uid)
        return uid, duplicate

    def of_row(
        self, fields: Fields, row: Mapping[str, Any], where: str, index: int
    ) -> tuple[str, bool]:
        """The record's ``id`` field (required, not empty), made unique."""
        return self(upstream_id(fields.get(row, "id", where, index), where, index), index)


def join_suffix(question: str, suffix: str, sep: str = " ") -> str:
    """The question followed by a prompt suffix (nothing when the suffix is empty)."""
    return f"{question}{sep}{suffix}" if suffix else question


def task_options(request: SourceRequest, task: str) -> dict[str, Any]:
    """Suite-level source options overlaid with the task's own options."""
    return {**request.options, **request.tasks[task].options}


def per_split(value: Any, split: str, default: Any = None) -> Any:
    """An option given once for every split, or as a mapping split → value."""
    if isinstance(value, dict):
        return value.get(split, default)
    return default if value is None else value


# --------------------------------------------------------------------------- files


def raw_root(request: SourceRequest, module: str) -> Path:
    if request.raw_dir is None:
        raise SourceError(
            f"{request.suite}: source {module} reads upstream files; prepare it from the hub "
            "(source.repo_id) or from a mirror with --from DIR"
        )
    return request.raw_dir


def _listing(raw_dir: Path, rel: PurePosixPath) -> str:
    """What the nearest existing folder above ``rel`` holds (for error messages)."""
    folder = rel.parent
    while folder != PurePosixPath(".") and not (raw_dir / folder).is_dir():
        folder = folder.parent
    names = sorted(p.name for p in (raw_dir / folder).iterdir() if not p.name.startswith("."))
    shown = ", ".join(names[:12]) + (", …" if len(names) > 12 else "")
    return f"{folder.as_posix() if folder.parts else 'the top folder'} holds: {shown or 'nothing'}"


def find_file(raw_dir: Path, candidates: Sequence[str], what: str) -> PurePosixPath:
    """The first candidate path that is a file in the raw directory (glob patterns allowed)."""
    for candidate in candidates:
        matches = find_files(raw_dir, candidate)
        if matches:
            return matches[0]
    first = PurePosixPath(candidates[0])
    also = f" (also looked for {', '.join(candidates[1:])})" if len(candidates) > 1 else ""
    raise SourceError(
        f"{first}: not found; expected {what} there{also}; {_listing(raw_dir, first)}"
    )


def require_files(raw_dir: Path, patterns: Sequence[str], what: str) -> list[PurePosixPath]:
    """Every file matching one of the paths or globs, sorted; none at all is ``find_file``'s
    SourceError (the first pattern, ``what`` was expected there, what the folder holds)."""
    found = sorted({path for pattern in patterns for path in find_files(raw_dir, pattern)})
    if not found:
        find_file(raw_dir, patterns, what)  # raises, naming it
    return found


def find_files(raw_dir: Path, pattern: str) -> list[PurePosixPath]:
    """Files of the raw directory matching a relative path or glob, sorted."""
    if not any(c in pattern for c in "*?["):
        return [PurePosixPath(pattern)] if (raw_dir / pattern).is_file() else []
    return sorted(
        PurePosixPath(p.relative_to(raw_dir).as_posix())
        for p in raw_dir.glob(pattern)
        if p.is_file()
    )


def safe_relpath(value: Any, where: str, index: int) -> str:
    """An upstream image path (posix) that stays inside the raw directory."""
    if not isinstance(value, str) or not value.strip():
        raise SourceError(f"{where}: record {index}: image path {value!r} is not a path")
    path = posixpath.normpath(value.strip().replace("\\", "/"))
    if path.startswith("/") or path == ".." or path.startswith("../"):
        raise SourceError(
            f"{where}: record {index}: image path {value!r} must be relative and stay inside "
            "the dataset folder"
        )
    return path


# --------------------------------------------------------------------------- images


@contextlib.contextmanager
def untrusted_image(name: str) -> Iterator[None]:
    """Decoding an untrusted image: a decompression bomb (more pixels than Pillow's
    ``MAX_IMAGE_PIXELS``; Pillow only warns up to twice that) is one SourceError naming it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise SourceError(f"{name}: image too large to decode safely ({exc})") from None


def _check_image(source: Any, name: str) -> str:
    """Open and verify an image (header and structure); its format, lowercase."""
    try:
        with untrusted_image(name), Image.open(source) as image:
            image.verify()
            return (image.format or "png").lower()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise SourceError(f"{name}: not a readable image ({type(exc).__name__}: {exc})") from None


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


class Images:
    """Places upstream images in the suite directory, each checked once.

    Raw images are hard-linked (copied across file systems) to ``images/<raw path>``;
    embedded image bytes are written to ``images/<name>.<format>``. Paths returned are
    relative to the suite directory.
    """

    def __init__(self, raw_dir: Path | None, out_dir: Path, *, verify: bool = True) -> None:
        self.raw_dir, self.out_dir, self.verify = raw_dir, out_dir, verify
        self._memo: dict[tuple[str, str], str] = {}

    def place(self, name: str, where: str, index: int) -> str:
        """An image named in the raw file ``where``, placed in the suite directory.

        The name is resolved against the file's folder, then the folder above it (data-root
        relative paths), then the top of the raw directory; the first that exists wins.
        """
        key = (name, posixpath.dirname(where))
        found = self._memo.get(key)
        if found is None:
            found = self._place(safe_relpath(name, where, index), where, index)
            if len(self._memo) >= 65536:  # bounded: real datasets have millions of images
                self._memo.clear()
            self._memo[key] = found
        return found

    def _place(self, name: str, where: str, index: int) -> str:
        assert self.raw_dir is not None
        folder = posixpath.dirname(where)
        candidates = dict.fromkeys(
            posixpath.normpath(posixpath.join(base, name))
            for base in (folder, posixpath.dirname(folder), "")
        )
        rel = next((c for c in candidates if os.path.isfile(self.raw_dir / c)), None)
        if rel is None:
            looked = ", ".join(candidates)
            raise SourceError(f"{where}: record {index}: image not found (looked for {looked})")
        out = f"images/{rel}"
        dst = self.out_dir / out
        if not dst.exists():
            src = self.raw_dir / rel
            if self.verify:
                with open_regular(src, rel) as handle:
                    _check_image(handle, rel)
            dst.parent.mkdir(parents=True, exist_ok=True)
            _link_or_copy(src, dst)
        return out

    def from_bytes(self, data: bytes, name: str, where: str, index: int) -> str:
        """Write embedded image bytes as ``images/<name>.<format>``."""
        fmt = _check_image(io.BytesIO(data), f"{where}: record {index}: embedded image")
        ext = {"jpeg": "jpg", "mpo": "jpg"}.get(fmt, fmt)
        out = PurePosixPath("images") / f"{name}.{ext}"
        dst = self.out_dir / out
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(data)
        return out.as_posix()
