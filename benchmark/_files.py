"""Helpers every stage shares: atomic writes (files and whole folders), file hashes, the
strict schema base, and pydantic errors as one line (the first error's path and message)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError


class StrictModel(BaseModel):
    """A schema that refuses unknown fields and is immutable once validated."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def first_error(exc: ValidationError, data: Any = None) -> str:
    """A pydantic ValidationError as one line: ``field <path>: <message>``, and how many more
    errors there are (``data``: the validated input, for :func:`format_loc`)."""
    first = exc.errors()[0]
    message = first["msg"].removeprefix("Value error, ")
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"field {format_loc(first['loc'], data)}: {message}{more}"


def format_loc(loc: tuple[Any, ...], data: Any = None) -> str:
    """A pydantic error location as a path (``checkpoints[1].path``); list items are shown
    by their ``id`` when ``data`` (the validated input) has one (``tasks[rs].scorer``)."""
    parts: list[str] = []
    node = data
    for item in loc:
        if isinstance(item, int):
            entry = node[item] if isinstance(node, list) and item < len(node) else None
            label = entry.get("id") if isinstance(entry, dict) else None
            parts.append(f"[{label}]" if label else f"[{item}]")
            node = entry
        else:
            parts.append(f".{item}" if parts else str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return "".join(parts) or "(top level)"


def sha256_file(path: Path, *, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a ``.partial`` sibling: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


@contextlib.contextmanager
def replacing_dir(target: Path) -> Iterator[Path]:
    """A new, empty sibling folder of ``target`` (``.<name>.partial-<pid>``) to build in.

    When the block ends it takes ``target``'s place (an old ``target`` is moved aside first
    and deleted last), so readers never see half a folder; when the block raises, it is
    deleted and ``target`` stays as it was.
    """
    work = target.with_name(f".{target.name}.partial-{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        yield work
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    if target.exists():
        os.replace(target, old)
    os.replace(work, target)
    shutil.rmtree(old, ignore_errors=True)
