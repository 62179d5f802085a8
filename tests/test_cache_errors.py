"""`evaluate` with a prediction cache it cannot use, or a disk that fills up: one line that
names the file and what to do (never a traceback), and no `.partial` file left behind."""

from __future__ import annotations

import builtins
import errno
import io
import os
import sqlite3
from pathlib import Path

import pytest
from tinyworld import make_entry

from benchmark.cli import main
from benchmark.generation.cache import PredictionCache

pytestmark = pytest.mark.slow


def evaluate(entry: Path, cache: Path, *extra: str) -> list[str]:
    """The arguments of `mllmcl-bench evaluate` with this entry and cache."""
    argv = ["evaluate", "--submission", str(entry), "--cache", str(cache), "--quiet"]
    return [*argv, "--bootstrap", "20", *extra]


def one_line_error(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]  # (transformers may print a progress bar before it)
    assert last.startswith("mllmcl-bench: error: ")
    return last


def corrupt(path: Path) -> None:
    path.write_bytes(b"these bytes are no SQLite database\n" * 200)


def truncated(path: Path) -> None:
    with PredictionCache(path) as cache:
        cache.put_many(
            (f"{i:064x}", f"toy/a/test/{i:05d}", "a prediction " * 4) for i in range(3000)
        )
    with open(path, "r+b") as handle:
        handle.truncate(os.path.getsize(path) // 2)


def wrong_schema(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE predictions (id INTEGER PRIMARY KEY, text TEXT)")
    db.close()


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (corrupt, "file is not a database: delete or move it"),
        (truncated, "damaged or truncated: delete or move it"),
        (wrong_schema, "not a prediction cache of this harness"),
    ],
    ids=["corrupt", "truncated", "wrong schema"],
)
def test_unusable_cache_file(env, tmp_path: Path, capsys, make, says) -> None:
    entry = make_entry(tmp_path, env)
    cache = tmp_path / "cache.sqlite"
    make(cache)
    line = one_line_error(capsys, evaluate(entry, cache, "--limit", "1"))
    assert str(cache) in line and says in line, line


def test_cache_path_is_a_folder(env, tmp_path: Path, capsys) -> None:
    entry = make_entry(tmp_path, env)
    folder = tmp_path / "caches"
    folder.mkdir()
    line = one_line_error(capsys, evaluate(entry, folder, "--limit", "1"))
    assert f"prediction cache {folder} is a folder" in line and "--cache a file" in line


def test_disk_full_in_the_cache(env, tmp_path: Path, capsys, monkeypatch) -> None:
    entry = make_entry(tmp_path, env)
    cache = tmp_path / "cache.sqlite"
    PredictionCache(cache).close()
    connect = sqlite3.connect

    def full_disk(*args, **kwargs):  # SQLite's own "disk full": no page beyond the current ones
        db = connect(*args, **kwargs)
        db.execute("PRAGMA max_page_count = 1")
        return db

    monkeypatch.setattr(sqlite3, "connect", full_disk)
    line = one_line_error(capsys, evaluate(entry, cache, "--limit", "10", "--batch-size", "10"))
    assert str(cache) in line and "full" in line and "free some space" in line, line


@pytest.mark.parametrize("fails", [".jsonl.partial", "results.json.partial"])
def test_disk_full_while_writing_outputs(env, tmp_path, capsys, monkeypatch, fails) -> None:
    entry = make_entry(tmp_path, env)
    out = tmp_path / "out"
    real_open = builtins.open

    class FullDisk:  # what a full disk does: the file is created, the writes fail
        def __init__(self, handle) -> None:
            self.handle = handle

        def write(self, text: str) -> int:
            self.handle.write(text[:3])
            self.handle.flush()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            self.handle.close()

    def opener(file, mode="r", *args, **kwargs):
        handle = real_open(file, mode, *args, **kwargs)
        return FullDisk(handle) if "w" in mode and str(file).endswith(fails) else handle

    monkeypatch.setattr(builtins, "open", opener)
    monkeypatch.setattr(io, "open", opener)
    argv = evaluate(entry, tmp_path / "c.sqlite", "--limit", "1", "--steps", "0", "--out", str(out))
    line = one_line_error(capsys, argv)
    assert "No space left on device" in line and str(out) in line, line
    assert fails.split(".partial")[0] in line
    assert not [p for p in tmp_path.rglob("*") if ".partial" in p.name]
