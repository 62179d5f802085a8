"""Re-scoring saved predictions (``evaluate --backend replay``): the entry's files, no model.

Fills every planned cell from ``predictions/step-XX/<task>.jsonl``; a file that is missing,
malformed or misses a uid of the suite is one :class:`PredictionsError` naming the file.
This is how entries whose inference the harness cannot run (self-reported) are scored, and
how a leaderboard pull request is re-checked.
"""

from __future__ import annotations

from benchmark.entry.predictions import PredictionsError, predictions_path, read_predictions
from benchmark.evaluation.plan import Plan

REPLAY = "replay"  # the --backend value that selects this path


def fill_from_saved(plan_: Plan) -> None:
    """Every cell's predictions from the entry's saved files (nothing is generated)."""
    for cell in plan_.cells:
        path = predictions_path(plan_.entry_dir, cell.step, cell.task)
        saved = read_predictions(path)
        missing = [r.uid for r in cell.records if r.uid not in saved]
        if missing:
            raise PredictionsError(
                f"{path}: {len(missing)} uid(s) of the suite have no prediction, "
                f"e.g. {missing[0]!r}"
            )
        cell.predictions.update((r.uid, saved[r.uid]) for r in cell.records)
