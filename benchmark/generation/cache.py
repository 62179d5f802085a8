"""The prediction cache: one SQLite file, safe to kill at any moment.

A prediction is stored under a key of (record uid, task hash, checkpoint content hash,
generation config, prompt fingerprint). Each finished batch is committed at once (WAL
journal), so an interrupted evaluation resumes where it stopped, and a re-run with nothing
changed generates nothing. Several processes may share the file.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any


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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS predictions ("
            " key TEXT PRIMARY KEY, prediction TEXT NOT NULL, uid TEXT NOT NULL,"
            " created REAL NOT NULL)"
        )

    def get_many(self, keys: Iterable[str]) -> dict[str, str]:
        """The cached predictions among ``keys``."""
        found: dict[str, str] = {}
        batch: list[str] = []

        def flush() -> None:
            marks = ",".join("?" * len(batch))
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
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(
                "INSERT OR REPLACE INTO predictions (key, prediction, uid, created) "
                "VALUES (?, ?, ?, ?)",
                data,
            )
        return len(data)

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM predictions").fetchone()[0])

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> PredictionCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
