"""The prediction cache: one SQLite file, safe to kill at any moment.

A prediction is stored under a key of (record uid, task hash, checkpoint content hash,
generation config, prompt fingerprint). Each finished batch is committed at once (WAL
journal), so an interrupted evaluation resumes where it stopped, and a re-run with nothing
changed generates nothing. Several processes may share the file; runs that share it also
share work: a run generates a checkpoint's items only while it holds that checkpoint's
lock (``claim``), and the others read them from the cache instead of generating them again.
A file that is not such a cache (damaged, truncated, another schema), a full disk and the
like are one-line ``BenchmarkError``s that name the file and what to do.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmark.errors import BenchmarkError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no locks, concurrent runs duplicate work
    fcntl = None  # type: ignore[assignment]

COLUMNS = ("key", "prediction", "uid", "created")
_REMEDY = "delete or move it (and its -wal and -shm files) to start an empty cache"
# What to do, by SQLite's primary error name (sqlite3 errors carry it since Python 3.11).
_ADVICE = {
    "SQLITE_NOTADB": _REMEDY,
    "SQLITE_CORRUPT": f"it is damaged or truncated: {_REMEDY}",
    "SQLITE_FULL": "free some space and run again (what is cached so far is kept)",
    "SQLITE_IOERR": "is the disk full? Free some space and run again",
    "SQLITE_BUSY": "another process has held it locked for over a minute: try again later",
    "SQLITE_READONLY": "make the file and its folder writable, or pass --cache another path",
    "SQLITE_CANTOPEN": "check the path and its permissions, or pass --cache another path",
}


def prediction_key(
    *,
    uid: str,
    task_hash: str,
    checkpoint_hash: str,
    generation: Mapping[str, Any],
    prompt_fingerprint: str,
) -> str:
    """The cache key of one prediction (hex sha256)."""
    payload = json.dumps(
        [uid, task_hash, checkpoint_hash, dict(sorted(generation.items())), prompt_fingerprint],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class PredictionCache:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._locks: dict[str, int] = {}  # checkpoint -> the open lock file holding its lock
        if self.path.is_dir():
            raise BenchmarkError(
                f"prediction cache {self.path} is a folder, not a file: pass --cache a file "
                f"path (such as {self.path / 'predictions.sqlite'})"
            )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BenchmarkError(
                f"prediction cache {self.path}: cannot create the folder {self.path.parent}: "
                f"{exc.strerror or exc}"
            ) from None
        with self._errors():
            self._db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        try:
            with self._errors():
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.execute(
                    "CREATE TABLE IF NOT EXISTS predictions ("
                    " key TEXT PRIMARY KEY, prediction TEXT NOT NULL, uid TEXT NOT NULL,"
                    " created REAL NOT NULL)"
                )
                columns = self._db.execute("PRAGMA table_info(predictions)").fetchall()
            if sorted(c[1] for c in columns) != sorted(COLUMNS) or not any(
                c[1] == "key" and c[5] for c in columns
            ):
                found = ", ".join(f"{c[1]}{' (primary key)' if c[5] else ''}" for c in columns)
                raise BenchmarkError(
                    f"prediction cache {self.path}: not a prediction cache of this harness "
                    f"(table predictions has columns {found}; expected {', '.join(COLUMNS)} "
                    f"with key the primary key): {_REMEDY}"
                )
        except BaseException:
            self._db.close()
            raise

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """SQLite's errors as one line naming the file and what to do."""
        try:
            yield
        except sqlite3.Error as exc:
            name = getattr(exc, "sqlite_errorname", "") or ""
            advice = next((a for n, a in _ADVICE.items() if name.startswith(n)), None)
            raise BenchmarkError(
                f"prediction cache {self.path}: {exc}" + (f": {advice}" if advice else "")
            ) from None

    def get_many(self, keys: Iterable[str]) -> dict[str, str]:
        """The cached predictions among ``keys``."""
        found: dict[str, str] = {}
        batch: list[str] = []

        def flush() -> None:
            marks = ",".join("?" * len(batch))
            with self._errors():
                rows = self._db.execute(
                    f"SELECT key, prediction FROM predictions WHERE key IN ({marks})", batch
                )
                found.update(rows.fetchall())
            batch.clear()

        for key in keys:
            batch.append(key)
            if len(batch) >= 900:
                flush()
        if batch:
            flush()
        return found

    def put_many(self, rows: Iterable[tuple[str, str, str]]) -> int:
        """Store (key, uid, prediction) rows in one transaction; return how many."""
        now = time.time()
        data = [(key, prediction, uid, now) for key, uid, prediction in rows]
        with self._errors(), self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(
                "INSERT OR REPLACE INTO predictions (key, prediction, uid, created) "
                "VALUES (?, ?, ?, ?)",
                data,
            )
        return len(data)

    def claim(self, checkpoint: str, *, wait: bool = False) -> bool:
        """Lock ``checkpoint`` (a content hash) for this process among those sharing the cache.

        True when this process holds the lock (already, or now); False when another does
        and ``wait`` is False; with ``wait``, blocks until it gets it. The lock is the
        kernel's (``flock`` on ``<cache>.locks/<hash>``): it goes with the process however
        that ends, kill -9 included, so a dead run never blocks another. Where locks are
        unavailable (no ``fcntl``, an unwritable folder) every claim succeeds: runs then
        duplicate work, with identical results.
        """
        if checkpoint in self._locks or fcntl is None:
            return True
        name = hashlib.sha256(checkpoint.encode("utf-8")).hexdigest()[:32]
        try:
            folder = self.path.with_name(self.path.name + ".locks")
            folder.mkdir(exist_ok=True)
            fd = os.open(folder / name, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            return True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._locks[checkpoint] = fd
        return True

    def release(self, checkpoint: str) -> None:
        """Drop this process's lock on ``checkpoint`` (nothing if it holds none)."""
        fd = self._locks.pop(checkpoint, None)
        if fd is not None:
            os.close(fd)  # closing the file drops the lock

    def __len__(self) -> int:
        with self._errors():
            return int(self._db.execute("SELECT COUNT(*) FROM predictions").fetchone()[0])

    def close(self) -> None:
        for checkpoint in list(self._locks):
            self.release(checkpoint)
        self._db.close()

    def __enter__(self) -> PredictionCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
