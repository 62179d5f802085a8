"""``predictions/step-XX/<task>.jsonl``: an entry's saved predictions, read and written.

One ``{"uid": ..., "prediction": ...}`` per line. Re-scoring them (``evaluate --backend
replay``) is how entries whose inference the harness cannot run are scored, and how a
leaderboard pull request is re-checked.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from benchmark.entry.strict import loads_strict
from benchmark.entry.submission import PREDICTIONS_DIR, step_dir
from benchmark.errors import BenchmarkError

MAX_PREDICTION_CHARS = 100_000


class PredictionsError(BenchmarkError):
    """A predictions file is missing, malformed, or does not cover its cell."""


def predictions_path(entry_dir: Path, step: int, task: str) -> Path:
    return Path(entry_dir) / PREDICTIONS_DIR / step_dir(step) / f"{task}.jsonl"


def read_predictions(path: Path) -> dict[str, str]:
    """uid → prediction; errors name the file and line (bad JSON, fields, duplicates)."""
    if not path.is_file():
        raise PredictionsError(f"{path}: predictions file not found")
    out: dict[str, str] = {}
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = loads_strict(line)  # a duplicate "prediction" key is an error
            except json.JSONDecodeError as exc:
                raise PredictionsError(f"{path}: line {number}: invalid JSON ({exc.msg})") from None
            except ValueError as exc:
                raise PredictionsError(f"{path}: line {number}: invalid JSON ({exc})") from None
            except RecursionError:
                raise PredictionsError(f"{path}: line {number}: nested too deeply") from None
            if not isinstance(row, dict) or set(row) != {"uid", "prediction"}:
                raise PredictionsError(
                    f"{path}: line {number}: expected an object with exactly 'uid' and 'prediction'"
                )
            uid, prediction = row["uid"], row["prediction"]
            if not isinstance(uid, str) or not isinstance(prediction, str):
                raise PredictionsError(
                    f"{path}: line {number}: 'uid' and 'prediction' must be strings"
                )
            if len(prediction) > MAX_PREDICTION_CHARS:
                raise PredictionsError(
                    f"{path}: line {number}: prediction longer than {MAX_PREDICTION_CHARS} chars"
                )
            if uid in out:
                raise PredictionsError(f"{path}: line {number}: duplicate uid {uid!r}")
            out[uid] = prediction
    return out


def write_predictions(path: Path, rows: Sequence[tuple[str, str]]) -> None:
    """Write (uid, prediction) rows as JSONL, atomically."""
    import os

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    with open(tmp, "w", encoding="utf-8", newline="\n") as handle:
        for uid, prediction in rows:
            handle.write(json.dumps({"uid": uid, "prediction": prediction}, ensure_ascii=False))
            handle.write("\n")
    os.replace(tmp, path)
