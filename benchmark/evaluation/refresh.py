"""``mllmcl-bench rescore``: an entry's results.json again, from its saved predictions.

When scoring or the metric definitions change (a new interval method, a new metric), the
committed entries are re-scored: their saved predictions are scored by the current code,
and results.json is rewritten with the new matrix, metrics and intervals, with the same
bootstrap replicates and seed. What results.json records of the run that produced the
predictions (backend, checkpoints, library versions, timings) is kept as it was: nothing is
generated again, so those records still describe the predictions.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from benchmark.entry.results import load_results
from benchmark.entry.submission import RESULTS_FILE, load_submission
from benchmark.errors import BenchmarkError
from benchmark.evaluation.rescore import REPLAY
from benchmark.evaluation.run import evaluate_entry, write_results

# Provenance fields that describe the run that generated the predictions, not the scoring.
RUN_FIELDS = (
    "backend",
    "step_backends",
    "trust_remote_code",
    "versions",
    "chat_template_sha256",
    "checkpoints",
    "started",
    "finished",
    "wall_seconds",
    "generated",
    "base_parameters",  # counted from the weights, which a replay does not load
)


def rescore_entry(entry_dir: Path) -> Path:
    """Rewrite ``entry_dir``'s results.json from its saved predictions; returns its path.

    The entry must already have a results.json (it says which bootstrap replicates and seed
    to use, and holds the run's records, kept as they are).
    """
    path = Path(entry_dir) / RESULTS_FILE
    if load_submission(Path(entry_dir)).reported_only:
        raise BenchmarkError(
            f"{entry_dir}: a reported-only entry (a paper's numbers) has no predictions to re-score"
        )
    if not path.is_file():
        raise BenchmarkError(f"{path}: not found (evaluate the entry first)")
    committed = load_results(path)
    boot = committed.bootstrap
    with tempfile.TemporaryDirectory(prefix="mllmcl-rescore-") as scratch:
        outcome = evaluate_entry(
            entry_dir,
            backend=REPLAY,
            out_dir=Path(scratch),
            progress=False,
            n_boot=int(boot["replicates"]),
            seed=int(boot["seed"]),
        )
    assert outcome.results is not None  # a complete replay always scores
    run = {name: getattr(committed.provenance, name) for name in RUN_FIELDS}
    provenance = outcome.results.provenance.model_copy(update=run)
    write_results(path, outcome.results.model_copy(update={"provenance": provenance}))
    return path


def default_entries(submissions: Path = Path("submissions")) -> list[Path]:
    """Every entry folder (``<suite>/<entry>/`` with a results.json) under ``submissions``."""
    return sorted(p.parent for p in Path(submissions).glob(f"*/*/{RESULTS_FILE}"))


def rescore_entries(entries: Sequence[Path]) -> list[Path]:
    """:func:`rescore_entry` for each entry, in order; the results.json files written."""
    if not entries:
        raise BenchmarkError("no entries to re-score (no <suite>/<entry>/results.json found)")
    return [rescore_entry(entry) for entry in entries]
