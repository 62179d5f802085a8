"""Prediction text → item score: deterministic, rule-based, no model and no LLM judge.

Every scorer is a pure function of strings, ``(prediction, answers, choices) -> Score``,
registered by name (:mod:`.registry`, which also states the conventions every scorer
shares); suites name scorers in their YAML and every record carries the name of the scorer
that judges it. The families: :mod:`.text` (VQA accuracy, exact match, ANLS, relaxed
accuracy, token F1), :mod:`.structured` (set F1, detection F1), :mod:`.choice` (multiple
choice) and :mod:`.upstream` (the authors' own rules: MLLM-CL, OCRBench, MMT GUI,
MathVista) and :mod:`.caption` (COCO caption metrics, scored per cell).
Importing this package registers them all.

Public interface: ``from benchmark.scoring import score``.
"""

from __future__ import annotations

from benchmark.scoring import choice, structured, text, upstream  # noqa: F401 - registers
from benchmark.scoring.caption import CELL_SCORERS
from benchmark.scoring.registry import (
    SCORERS,
    CellScore,
    Score,
    Scorer,
    UnknownScorerError,
    aggregate,
    register,
    score,
    scorer_names,
)
from benchmark.scoring.structured import parse_boxes
from benchmark.scoring.text import levenshtein, squad_tokens, vqa_normalize

KNOWN_SCORERS: frozenset[str] = frozenset(SCORERS) | CELL_SCORERS
"""Every scorer a record may name: the per-item registry and the cell scorers."""

__all__ = [
    "CELL_SCORERS",
    "KNOWN_SCORERS",
    "SCORERS",
    "CellScore",
    "Score",
    "Scorer",
    "UnknownScorerError",
    "aggregate",
    "levenshtein",
    "parse_boxes",
    "register",
    "score",
    "scorer_names",
    "squad_tokens",
    "vqa_normalize",
]
