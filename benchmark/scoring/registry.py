"""Answer normalisers and scorers: deterministic, rule-based, no model and no LLM judge.

Every scorer is a pure function of strings, ``(prediction, answers, choices) -> Score``, and
is looked up by name in a registry; suites name scorers in their YAML and every record
carries the name of the scorer that judges it (``Record.scorer``). The per-record choice of
rule (say, MLLM-CL Sci items choosing exact match or MapQA by the image file's prefix) is
made when records are prepared, so no scorer needs anything but the three arguments.

Conventions shared by every scorer (applied once, by the registry's wrapper):

- The prediction is stripped of surrounding whitespace and NFKC-normalised (full-width
  letters and digits, ligatures, non-breaking spaces … become their plain forms); gold
  answers and option texts are NFKC-normalised too but not stripped, since some upstream
  rules depend on their exact spacing (MapQA). Upstream evaluators do not NFKC-normalise;
  on ASCII text (all of the upstream gold answers we know of) this changes nothing. In a
  text that NFKC changes, runs of more than 30 combining marks (characters that decompose
  to combining marks only) are cut to 30 first, Unicode's stream-safe limit (UAX #15; no
  real text reaches it): NFKC sorts such a run in quadratic time, so a hostile prediction
  could stall scoring. Every scorer takes time about linear in the prediction's length.
- An empty prediction scores 0. Choice and number scorers (``multiple_choice``,
  ``mmt_gui``, ``mathvista``) report it as a parse failure (``parse_ok`` False) that their
  references would have sent to a judge (``judge_needed`` True); text-match
  scorers report ``parse_ok`` True: an empty answer is an answer, and a wrong one.
  ``detection_f1`` and ``set_f1`` treat it as an empty list (correct when the gold is empty).
- ``parse_ok`` is False only when a scorer needs to extract something (an option letter, a
  number, a box) and cannot; such items score 0 and are counted per cell by ``aggregate``.
- ``judge_needed`` is True when the reference's own rules could not read an answer from the
  output, so that the reference would have asked its LLM judge (MathVista's extraction for
  MLLM-CL Math, VLMEvalKit's ``can_infer`` for MMT-Bench GUI and MMBench-style multiple
  choice). We never ask a judge: such an item is scored by our documented rules or is a parse
  failure. ``aggregate`` counts them per cell, so a reader sees how comparable a number is
  with a published one. Scorers whose reference has no judge always report False.
- The MLLM-CL rule "an output containing ``Unanswerable`` counts as wrong" (case-sensitive,
  as upstream) is one shared wrapper, applied only where the authors' scripts at
  bjzhb666/MLLM-CL@80bf389 apply it: RS and AD (``eval_ai2d.py``: ``mllmcl_rs_ad``), Med
  (``mllmcl_med``), Sci (``mllmcl_sci_*``, ``mllmcl_substring``) and Fin (``mllmcl_fin``);
  such an output scores 0 with ``parse_ok`` True. OCR, VP, Math and GUI have no such rule.
- Nothing depends on call order, batching or randomness: the caches below only memoise
  pure functions, and ``aggregate`` sums with ``math.fsum`` (exact, so order-free).
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
UNANSWERABLE = "Unanswerable"

# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Score:
    """One judged prediction.

    ``value`` is in [0, 1]; ``parsed`` is what the scorer extracted or normalised from the
    prediction (an option letter, a normalised answer, boxes), for display and debugging;
    ``parse_ok`` is False when the scorer could not extract what it needs; ``judge_needed``
    is True when the reference's rules could not read the output, so that the reference would
    have asked an LLM judge (see the module docstring).
    """

    value: float
    parsed: str
    parse_ok: bool
    judge_needed: bool = False


@dataclass(frozen=True, slots=True)
class CellScore:
    """The score of one (step, task) cell: mean value ×100, item count, parse failures and
    the items the reference would have sent to its LLM judge (``judge_needed``).

    ``accuracy`` is NaN (never 0.0) for a cell with no items.
    """

    accuracy: float
    n: int
    parse_failures: int
    judge_needed: int = 0


def aggregate(scores: Iterable[Score]) -> CellScore:
    """Mean ``value`` × 100 over ``scores``, their number, how many failed to parse and how
    many the reference would have sent to its LLM judge."""
    values: list[float] = []
    failures = 0
    judged = 0
    for item in scores:
        values.append(item.value)
        if not item.parse_ok:
            failures += 1
        if item.judge_needed:
            judged += 1
    if not values:
        return CellScore(math.nan, 0, 0, 0)
    return CellScore(100.0 * math.fsum(values) / len(values), len(values), failures, judged)


# --------------------------------------------------------------------------- registry

Scorer = Callable[..., Score]
"""A registered scorer: ``(prediction, answers, choices=None) -> Score``."""

_Core = Callable[[str, tuple[str, ...], tuple[str, ...] | None], Score]
EmptyRule = Literal["text", "choice", "own"]


class UnknownScorerError(KeyError, ValueError):
    """A scorer name that is not registered; the message lists the known names."""

    def __str__(self) -> str:  # KeyError would show the message in quotes
        return str(self.args[0]) if self.args else ""


_REGISTRY: dict[str, Scorer] = {}
SCORERS: Mapping[str, Scorer] = MappingProxyType(_REGISTRY)
"""Read-only view of the registry: name -> scorer."""

_EMPTY_TEXT = Score(0.0, "", True)
_EMPTY_CHOICE = Score(0.0, "", False)
_EMPTY_JUDGED = Score(0.0, "", False, True)  # an empty output: the reference's judge is asked
_EMPTY_RULES: dict[str, Score | None] = {"text": _EMPTY_TEXT, "choice": _EMPTY_JUDGED, "own": None}


STREAM_SAFE_RUN = 30
"""The most combining marks in a row that NFKC is given (UAX #15's stream-safe limit)."""


@functools.cache
def _long_mark_runs() -> re.Pattern[str]:
    """Runs of more than ``STREAM_SAFE_RUN`` characters that decompose to combining marks
    only (combining class > 0 after NFKD), for this Python's Unicode version. Built on first
    use (a scan of every code point, about 0.2 s)."""
    marks = [
        cp
        for cp in range(0x110000)
        if unicodedata.combining(chr(cp))
        or (
            unicodedata.decomposition(chr(cp))
            and all(map(unicodedata.combining, unicodedata.normalize("NFKD", chr(cp))))
        )
    ]
    spans: list[list[int]] = []
    for cp in marks:
        if spans and spans[-1][1] == cp - 1:
            spans[-1][1] = cp
        else:
            spans.append([cp, cp])
    chars = "".join(f"{chr(a)}-{chr(b)}" if a != b else chr(a) for a, b in spans)
    return re.compile(f"([{chars}]{{{STREAM_SAFE_RUN}}})[{chars}]+")


def _nfkc(text: str) -> str:
    """NFKC, in linear time: longer runs of combining marks are cut first (see above)."""
    if text.isascii() or unicodedata.is_normalized("NFKC", text):  # linear; the usual case
        return text
    if len(text) > STREAM_SAFE_RUN:
        text = _long_mark_runs().sub(r"\1", text)
    return unicodedata.normalize("NFKC", text)


def _clean(prediction: str) -> str:
    text = prediction.strip()
    if not text.isascii():
        text = _nfkc(text).strip()
    return text


def register(
    name: str, *, empty: EmptyRule = "text", nfkc_answers: bool = True
) -> Callable[[_Core], Scorer]:
    """Register a scorer's core under ``name``; returns the public (wrapped) scorer.

    The core receives the cleaned prediction (stripped, NFKC), the gold answers as a tuple
    (NFKC-normalised unless ``nfkc_answers`` is False, for cores whose cached normaliser
    does it) and the choices as a tuple of NFKC-normalised texts or None. ``empty`` says
    what an empty prediction scores: ``"text"`` 0 (parsed), ``"choice"`` 0 (parse failure,
    judge needed),
    ``"own"`` the core decides.
    """
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise ValueError(f"scorer name {name!r} must be lower_snake_case")
    if empty not in _EMPTY_RULES:
        raise ValueError(f"empty={empty!r}: expected one of {sorted(_EMPTY_RULES)}")
    on_empty = _EMPTY_RULES[empty]

    def decorate(core: _Core) -> Scorer:
        if name in _REGISTRY:
            raise ValueError(f"scorer {name!r} is already registered")

        @functools.wraps(core)
        def scorer(
            prediction: str, answers: Sequence[str], choices: Sequence[str] | None = None
        ) -> Score:
            if isinstance(answers, str):
                raise TypeError(f"{name}: answers must be a sequence of strings, not a string")
            golds = tuple(answers)
            if not golds:
                raise ValueError(f"{name}: no gold answer to score against")
            if nfkc_answers and not all(map(str.isascii, golds)):
                golds = tuple(map(_nfkc, golds))
            options = None
            if choices is not None:
                options = tuple(choices)
                if not all(map(str.isascii, options)):
                    options = tuple(map(_nfkc, options))
            text = _clean(prediction)
            if not text and on_empty is not None:
                return on_empty
            return core(text, golds, options)

        scorer.__name__ = name
        scorer.__qualname__ = name
        _REGISTRY[name] = scorer
        return scorer

    return decorate


def scorer_names() -> list[str]:
    """The registered scorer names, sorted."""
    return sorted(_REGISTRY)


def score(
    scorer: str, prediction: str, answers: Sequence[str], choices: Sequence[str] | None = None
) -> Score:
    """Judge ``prediction`` against the gold ``answers`` with the scorer named ``scorer``.

    ``choices`` are the option texts, in order (letters A, B, C …), for multiple-choice items.
    Raises ``UnknownScorerError`` (a ``KeyError`` and a ``ValueError``) for an unknown name.
    """
    fn = _REGISTRY.get(scorer)
    if fn is None:
        raise UnknownScorerError(
            f"unknown scorer {scorer!r}; known: {', '.join(sorted(_REGISTRY))}"
        )
    return fn(prediction, answers, choices)


def _unanswerable_is_wrong(core: _Core) -> _Core:
    """MLLM-CL's rule: an output containing "Unanswerable" (case-sensitive) counts as wrong.

    Upstream skips such items while still counting them in the denominator, i.e. scores
    them 0. Applied where the authors' scripts apply it (bjzhb666/MLLM-CL@80bf389): RS, AD,
    Med, Sci and Fin; not OCR, VP, Math or GUI.
    """

    @functools.wraps(core)
    def wrapped(pred: str, golds: tuple[str, ...], choices: tuple[str, ...] | None) -> Score:
        if UNANSWERABLE in pred:
            return Score(0.0, UNANSWERABLE, True)
        return core(pred, golds, choices)

    return wrapped


@functools.lru_cache(maxsize=4096)
def _result(value: float, parsed: str, parse_ok: bool, judge_needed: bool = False) -> Score:
    """Score instances are immutable, so frequent ones are shared (a speed-up only)."""
    return Score(value, parsed, parse_ok, judge_needed)
