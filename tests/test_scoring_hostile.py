"""Scorers on hostile predictions: the shape of the work, not its timing.

Every scorer must take time about linear in the prediction's length (a model can emit
100,000 characters of spaces or combining marks). These tests check deterministic
properties that make it so; ``tests/perf/test_scoring_perf.py`` times the real thing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

import benchmark.scoring.registry as registry
import benchmark.scoring.structured as structured
from benchmark.scoring import score, scorer_names, vqa_normalize

# ----------------------------------------------------------------------------- set_f1 split


def unbounded_repeats(pattern: re.Pattern[str]) -> list[str]:
    """The ``*``/``+``/``{n,}`` parts of a regex (from the standard library's own parser).

    A pattern without them examines a bounded number of characters per start position, so
    ``split``/``search``/``finditer`` with it take linear time.
    """
    from re import _constants, _parser  # type: ignore[attr-defined]

    repeats = (_constants.MAX_REPEAT, _constants.MIN_REPEAT, _constants.POSSESSIVE_REPEAT)
    found: list[str] = []

    def walk(items) -> None:
        for op, arg in items:
            if op in repeats:
                low, high, body = arg
                if high == _constants.MAXREPEAT:
                    found.append(f"{op}{{{low},}}")
                walk(body)
            elif op is _constants.SUBPATTERN:
                walk(arg[-1])
            elif op is _constants.BRANCH:
                for branch in arg[1]:
                    walk(branch)

    walk(_parser.parse(pattern.pattern, pattern.flags))
    return found


def test_unbounded_repeats_finds_them() -> None:  # the helper itself
    assert unbounded_repeats(re.compile(r"\s*(?:,|\band\b)\s*")) == [
        "MAX_REPEAT{0,}",
        "MAX_REPEAT{0,}",
    ]
    assert unbounded_repeats(re.compile(r"(a|b+)")) == ["MAX_REPEAT{1,}"]
    assert unbounded_repeats(re.compile(r"a{1,3}|[bc]")) == []


def test_set_f1_splits_with_a_linear_regex() -> None:
    # r"\s*(?:[,;\n&]|\band\b)\s*" retried every start inside a run of spaces and consumed
    # the rest of the run each time: 40,000 spaces took 34 s.
    assert unbounded_repeats(structured._SET_SPLIT) == []


# The splitter as it was (quadratic on long runs of spaces, fine on short texts): the sets
# must not change.
OLD_SET_SPLIT = re.compile(r"\s*(?:[,;\n&]|\band\b)\s*", re.IGNORECASE)


@given(st.lists(st.sampled_from([" ", "  ", "\t", "\n", ",", ";", "&", "and", "AND", "band",
                                 "a", "the", "cat", "Two", "x.", "1,000", "\u00a0", "é"]),
                max_size=12))  # fmt: skip
def test_set_f1_splits_as_before(parts: list[str]) -> None:
    text = "".join(parts)
    old = {x for part in OLD_SET_SPLIT.split(text) if (x := vqa_normalize(part))}
    assert structured._name_set(text) == old


# ----------------------------------------------------------------------------- NFKC

MARK_ABOVE, MARK_BELOW = "\u0301", "\u0316"  # combining classes 230 and 220


def sort_work(text: str) -> int:
    """Work of NFKC's canonical reordering on ``text``: the sum of squared lengths of the
    runs of combining marks after decomposition (CPython sorts each run by insertion)."""
    work = run = 0
    for char in text:
        for part in unicodedata.normalize("NFKD", char):  # one character: no long run
            if unicodedata.combining(part):
                run += 1
            else:
                work, run = work + run * run, 0
    return work + run * run


def nfkc_inputs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every text the scorers hand to ``unicodedata.normalize`` from now on."""
    seen: list[str] = []
    real = unicodedata.normalize

    def spy(form: str, text: str) -> str:
        if form in ("NFKC", "NFC"):
            seen.append(text)
        return real(form, text)

    monkeypatch.setattr(unicodedata, "normalize", spy)
    return seen


GOLDS: dict[str, tuple[tuple[str, ...], tuple[str, ...] | None]] = {
    "multiple_choice": (("B",), ("cat", "dog", "bird")),
    "mmt_gui": (("B",), ("cat", "dog", "bird")),
    "mathvista": (("12",), None),
    "detection_f1": (("[1, 2, 3, 4]",), None),
}

HOSTILE: dict[str, Callable[[int], str]] = {
    # one long run, its marks in the reverse of canonical order: each must be moved
    "marks descending": lambda n: "a" + MARK_ABOVE * (n // 2) + MARK_BELOW * (n // 2),
    "marks alternating": lambda n: "a" + (MARK_ABOVE + MARK_BELOW) * (n // 2),
    # characters that are not marks themselves but decompose to marks only
    "tibetan vowels": lambda n: "\u0f73\u0f75" * (n // 2),
    "zalgo words": lambda n: ("a" + (MARK_ABOVE + MARK_BELOW) * 20 + " ") * (n // 42),
}


@pytest.mark.parametrize("kind", list(HOSTILE))
@pytest.mark.parametrize("name", scorer_names())
def test_nfkc_work_grows_linearly(name: str, kind: str, monkeypatch) -> None:
    golds, choices = GOLDS.get(name, (("red, blue and 2 cats",), None))
    seen = nfkc_inputs(monkeypatch)
    work = []
    for n in (2000, 4000):
        seen.clear()
        registry._result.cache_clear()
        score(name, HOSTILE[kind](n), golds, choices)
        assert seen, "the prediction is NFKC-normalised"
        work.append(sum(map(sort_work, seen)))
    # doubling the prediction at most doubles the work (quadratic: four times)
    assert work[1] <= 2.2 * work[0] + 10_000, work


def test_long_runs_of_marks_are_cut_to_the_stream_safe_limit() -> None:
    # out of canonical order, so NFKC has work to do: the run is cut to 30 marks first
    text = "x" + MARK_ABOVE * 40 + MARK_BELOW + "y" + MARK_BELOW * 30 + "z"
    assert registry._nfkc(text) == "x" + MARK_ABOVE * 30 + "y" + MARK_BELOW * 30 + "z"
    cut = score("exact_match", "x" + MARK_ABOVE * 45 + MARK_BELOW, ["x" + MARK_ABOVE * 30])
    assert cut.value == 1.0
    # a text NFKC leaves as it is stays as it is, however long its runs
    assert registry._nfkc("x" + MARK_BELOW * 50) == "x" + MARK_BELOW * 50


@given(st.text(max_size=60))
def test_nfkc_unchanged_below_the_limit(text: str) -> None:
    # hypothesis' texts never hold 31 marks in a row; NFKC is exactly unicodedata's
    assert registry._nfkc(text) == unicodedata.normalize("NFKC", text)


@given(st.text(alphabet=st.sampled_from("ae\u0301\u0316\u0308\u0f73\u0f71 ｆﬁ"), max_size=80))
def test_nfkc_unchanged_below_the_limit_marks_heavy(text: str) -> None:
    run = max((len(m) for m in re.findall(r"[\u0301\u0316\u0308\u0f73\u0f71]+", text)), default=0)
    if run <= registry.STREAM_SAFE_RUN:
        assert registry._nfkc(text) == unicodedata.normalize("NFKC", text)
