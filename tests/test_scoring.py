"""Scorers: one table of hard cases per scorer, the registry, aggregation, and properties.

Every expected value below is written out by hand (with the arithmetic in a comment where
it is not obvious), never computed by the code under test.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import random
import sys
from collections.abc import Sequence
from types import ModuleType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import benchmark.scoring as scoring
from benchmark.scoring import (
    SCORERS,
    CellScore,
    Score,
    UnknownScorerError,
    aggregate,
    levenshtein,
    parse_boxes,
    score,
    scorer_names,
    vqa_normalize,
)

Case = tuple[str, Sequence[str], Sequence[str] | None, float, bool]
# (prediction, answers, choices, expected value, expected parse_ok)

TESTED: set[str] = set()


def table(scorer: str, cases: dict[str, Case]) -> pytest.MarkDecorator:
    """Parametrize a test over ``cases`` (id -> case) for ``scorer``."""
    TESTED.add(scorer)
    return pytest.mark.parametrize(
        ("prediction", "answers", "choices", "value", "parse_ok"),
        list(cases.values()),
        ids=list(cases),
    )


def check(scorer: str, prediction: str, answers: Sequence[str], choices, value, parse_ok) -> Score:
    result = score(scorer, prediction, answers, choices)
    assert result.value == value, result
    assert result.parse_ok is parse_ok, result
    assert isinstance(result.value, float)
    assert isinstance(result.parsed, str)
    return result


# --------------------------------------------------------------------------- registry

EXPECTED_NAMES = [
    "anls",
    "coin_gqa",
    "coin_grounding",
    "coin_imagenet",
    "coin_ocrvqa",
    "coin_sqa",
    "detection_f1",
    "exact_match",
    "exact_upper",
    "mathvista",
    "mllmcl_fin",
    "mllmcl_med",
    "mllmcl_rs_ad",
    "mllmcl_sci_exact",
    "mllmcl_sci_mapqa_states",
    "mllmcl_substring",
    "mllmcl_vp",
    "mmt_gui",
    "multiple_choice",
    "ocrbench",
    "ocrbench_hme",
    "relaxed_accuracy",
    "set_f1",
    "token_f1",
    "vqa_accuracy",
]


def test_scorer_names_sorted_and_complete() -> None:
    assert scorer_names() == EXPECTED_NAMES
    assert sorted(SCORERS) == EXPECTED_NAMES


def test_scorers_mapping_is_read_only_and_callable() -> None:
    with pytest.raises(TypeError):
        SCORERS["x"] = SCORERS["exact_match"]  # type: ignore[index]
    assert SCORERS["exact_match"]("Yes", ["yes"]) == Score(1.0, "yes", True)
    assert SCORERS["vqa_accuracy"]("two", ["2"], None) == score("vqa_accuracy", "two", ["2"])


def test_unknown_scorer_lists_known_names() -> None:
    with pytest.raises(UnknownScorerError) as info:
        score("no_such_scorer", "x", ["x"])
    message = str(info.value)
    assert "no_such_scorer" in message
    assert all(name in message for name in EXPECTED_NAMES)
    assert isinstance(info.value, KeyError)
    assert isinstance(info.value, ValueError)


def fresh_module(name: str = "scoring_fresh_copy") -> ModuleType:
    """An independent copy of the benchmark.scoring package: its own registry, cold caches."""
    import benchmark

    def ours() -> list[str]:
        return [
            k for k in sys.modules if k == "benchmark.scoring" or k.startswith("benchmark.scoring.")
        ]

    saved = {k: sys.modules.pop(k) for k in ours()}
    try:
        module = importlib.import_module("benchmark.scoring")
    finally:
        for k in ours():
            del sys.modules[k]
        sys.modules.update(saved)
        benchmark.scoring = saved["benchmark.scoring"]
    return module


def test_register_adds_a_scorer_and_refuses_duplicates() -> None:
    module = fresh_module("scoring_register_copy")

    @module.register("always_half")
    def always_half(pred, golds, choices):
        return module.Score(0.5, pred, True)

    assert "always_half" in module.scorer_names()
    assert module.score("always_half", "  Ｘ ", ["y"]) == module.Score(0.5, "X", True)
    with pytest.raises(ValueError, match="already registered"):
        module.register("always_half")(always_half)
    with pytest.raises(ValueError, match="lower_snake_case"):
        module.register("Bad Name")
    assert "always_half" not in scorer_names()  # the package's registry is untouched


def test_score_is_frozen() -> None:
    result = score("exact_match", "yes", ["yes"])
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.value = 0.0  # type: ignore[misc]


def test_answers_must_be_a_non_empty_sequence() -> None:
    with pytest.raises(TypeError):
        score("exact_match", "yes", "yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no gold answer"):
        score("exact_match", "yes", [])


# --------------------------------------------------------------------------- aggregate


def test_aggregate_empty_is_nan_not_zero() -> None:
    cell = aggregate([])
    assert math.isnan(cell.accuracy)
    assert (cell.n, cell.parse_failures) == (0, 0)


def test_aggregate_mean_times_100_and_failures() -> None:
    cell = aggregate(
        [Score(1.0, "B", True), Score(0.0, "", False), Score(0.5, "x", True), Score(0.0, "", False)]
    )
    assert cell == CellScore(37.5, 4, 2)  # (1 + 0 + 0.5 + 0) / 4 = 0.375


def test_aggregate_accepts_a_generator_and_is_order_free() -> None:
    values = [0.1] * 7 + [1e-17, 0.3, 1 / 3, 0.9, 0.2]
    scores = [Score(v, "", True) for v in values]
    first = aggregate(s for s in scores)
    for seed in range(20):
        shuffled = scores[:]
        random.Random(seed).shuffle(shuffled)
        assert aggregate(shuffled) == first
    assert first.n == 12 and first.parse_failures == 0


# --------------------------------------------------------------------------- VQA accuracy

TEN = ["2", "2", "2", "3", "3", "3", "3", "4", "4", "5"]

VQA_CASES: dict[str, Case] = {
    # 3 of 10 match: the 3 matching annotators each see 2 matches among the other 9 -> 2/3;
    # the 7 others see 3 -> min(1, 3/3) = 1. Mean = (3 * 2/3 + 7 * 1) / 10 = 9/10.
    "3-of-10": ("2", TEN, None, 0.9, True),
    # 2 of 10: 2 annotators see 1 -> 1/3; 8 see 2 -> 2/3. (2/3 + 16/3) / 10 = 6/10.
    "2-of-10": ("4", TEN, None, 0.6, True),
    # 1 of 10: the matching one sees 0; 9 see 1 -> 1/3 each. (0 + 3) / 10 = 0.3.
    "1-of-10": ("5", TEN, None, 0.3, True),
    # 4 of 10: everyone sees at least 3 matches -> 1.
    "4-of-10": ("3", TEN, None, 1.0, True),
    "0-of-10": ("6", TEN, None, 0.0, True),
    # number words become digits: "two" == "2" (3 of 10 again)
    "number-word": ("Two", TEN, None, 0.9, True),
    "single-gold-exact": ("Yes", ["yes"], None, 1.0, True),
    "single-gold-miss": ("no", ["yes"], None, 0.0, True),
    "casing-and-period": ("YES.", ["yes"], None, 1.0, True),
    "article-dropped": ("The dog", ["dog"], None, 1.0, True),
    "article-a": ("a red car", ["red car"], None, 1.0, True),
    "contraction-dont": ("dont know", ["don't know"], None, 1.0, True),
    "contraction-isnt": ("isnt", ["isn't"], None, 1.0, True),
    "thousands-comma": ("1,000", ["1000"], None, 1.0, True),
    "decimal-point-kept": ("3.5", ["35"], None, 0.0, True),
    "comma-space-deleted": ("red, white", ["red white"], None, 1.0, True),
    "slash-becomes-space": ("red/white", ["red white"], None, 1.0, True),
    "hyphen-becomes-space": ("x-ray", ["x ray"], None, 1.0, True),
    "exclamation": ("yes!", ["yes"], None, 1.0, True),
    "none-is-zero": ("none", ["0"], None, 1.0, True),
    "answer-wrapper-not-stripped": ("The answer is yes", ["yes"], None, 0.0, True),
    "units-not-stripped": ("2 meters", ["2"], None, 0.0, True),
    "unicode-fullwidth": ("ｙｅｓ", ["yes"], None, 1.0, True),
    "unicode-nbsp": ("red\u00a0car", ["red car"], None, 1.0, True),
    "gold-unicode": ("yes", ["ｙｅｓ"], None, 1.0, True),
    "surrounding-space": ("  yes \n", ["yes"], None, 1.0, True),
    "empty-output": ("", ["yes"], None, 0.0, True),
    "whitespace-output": ("   ", ["yes"], None, 0.0, True),
}


@table("vqa_accuracy", VQA_CASES)
def test_vqa_accuracy(prediction, answers, choices, value, parse_ok) -> None:
    check("vqa_accuracy", prediction, answers, choices, value, parse_ok)


def test_vqa_parsed_is_the_normalised_answer() -> None:
    assert score("vqa_accuracy", "The Two dogs!", ["2 dogs"]).parsed == "2 dogs"


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("Hello, World!", "hello world"),
        ("1,000.5", "1000.5"),  # digit-comma-digit: listed marks deleted; "." before a digit kept
        ("1,000 (approx)", "1000 approx"),  # digit-comma-digit: "(" and ")" deleted, not spaced
        ("e.g. this", "eg this"),
        ("(a) cat", "cat"),  # ")" touches a space: deleted; "(" does not: a space; "a" dropped
        ("x(y)z", "x y z"),  # no space around: each mark becomes a space
        ("end.", "end"),
        ("3.14", "3.14"),
        ("ten", "10"),
        ("Whats up", "what's up"),
        ("an apple", "apple"),
        ("", ""),
    ],
    ids=lambda x: repr(x),
)
def test_vqa_normalize(raw: str, normalised: str) -> None:
    assert vqa_normalize(raw) == normalised


def vqa_by_definition(prediction: str, golds: list[str]) -> float:
    """The leave-one-out definition, annotator by annotator (for the property below)."""
    p = vqa_normalize(prediction.strip())
    norm = [vqa_normalize(g) for g in golds]
    if len(norm) == 1:
        return float(norm[0] == p)
    accs = []
    for i in range(len(norm)):
        others = norm[:i] + norm[i + 1 :]
        accs.append(min(1.0, sum(o == p for o in others) / 3))
    return sum(accs) / len(accs)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["1", "one", "2", "two", "cat", "The cat", "Cat."]),
    st.lists(st.sampled_from(["1", "2", "cat", "a cat", "dog", "one"]), min_size=1, max_size=12),
)
def test_vqa_accuracy_matches_the_definition(prediction: str, golds: list[str]) -> None:
    got = score("vqa_accuracy", prediction, golds).value
    assert got == pytest.approx(vqa_by_definition(prediction, golds), abs=1e-12)


# --------------------------------------------------------------------------- exact match

EXACT_CASES: dict[str, Case] = {
    "casing": ("Yes", ["yes"], None, 1.0, True),
    "any-gold": ("dog", ["cat", "the dog"], None, 1.0, True),
    "punctuation": ("dog.", ["dog"], None, 1.0, True),
    "number-word": ("three", ["3"], None, 1.0, True),
    "no-is-not-not": ("not", ["no"], None, 0.0, True),
    "answer-is-kept": ("The answer is dog", ["dog"], None, 0.0, True),
    "unit": ("3 kg", ["3"], None, 0.0, True),
    "unicode": ("ｃａｔ", ["cat"], None, 1.0, True),
    "empty-output": ("", ["cat"], None, 0.0, True),
    "unanswerable-not-special": ("Unanswerable", ["unanswerable"], None, 1.0, True),
}


@table("exact_match", EXACT_CASES)
def test_exact_match(prediction, answers, choices, value, parse_ok) -> None:
    check("exact_match", prediction, answers, choices, value, parse_ok)


# --------------------------------------------------------------------------- ANLS

ANLS_CASES: dict[str, Case] = {
    "identical": ("Hello World", ["hello world"], None, 1.0, True),
    "inner-whitespace": ("hello   world", ["Hello World"], None, 1.0, True),
    # 10 characters, 2 substitutions: 1 - 2/10 = 0.8
    "two-edits-of-10": ("abcdefghXY", ["abcdefghij"], None, 0.8, True),
    # 5 of 10 changed: similarity exactly 0.5, kept (only *below* 0.5 is zeroed)
    "at-threshold": ("abcdeVWXYZ", ["abcdefghij"], None, 0.5, True),
    # 6 of 10 changed: 0.4 < 0.5 -> 0
    "below-threshold": ("abcdUVWXYZ", ["abcdefghij"], None, 0.0, True),
    # 1 deletion from 11 characters: 1 - 1/11
    "one-deletion": ("abcdefghij", ["abcdefghijk"], None, 1 - 1 / 11, True),
    # the best gold wins: "abcdefghij" is 1 edit from "abcdefghiX" (0.9)
    "max-over-golds": ("abcdefghiX", ["zzzz", "abcdefghij"], None, 0.9, True),
    "unicode": ("ＡＢＣ", ["abc"], None, 1.0, True),
    "empty-output": ("", ["abc"], None, 0.0, True),
}


@table("anls", ANLS_CASES)
def test_anls(prediction, answers, choices, value, parse_ok) -> None:
    check("anls", prediction, answers, choices, value, parse_ok)


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [
        ("kitten", "sitting", 3),
        ("flaw", "lawn", 2),
        ("", "abc", 3),
        ("abc", "", 3),
        ("same", "same", 0),
        ("abcdef", "azced", 3),
        ("intention", "execution", 5),
    ],
)
def test_levenshtein(a: str, b: str, distance: int) -> None:
    assert levenshtein(a, b) == distance
    assert levenshtein(b, a) == distance


def reference_levenshtein(a: str, b: str) -> int:
    rows = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            rows[i][j] = min(
                rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + (a[i - 1] != b[j - 1])
            )
    return rows[-1][-1]


SHORT = st.text("abcd", max_size=12)
LONG = st.text("abcdé ", min_size=60, max_size=90)  # over 64 characters: many-word bit vectors


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.tuples(SHORT, SHORT), st.tuples(LONG, LONG), st.tuples(SHORT, LONG)),
       st.integers(0, 90))  # fmt: skip
def test_levenshtein_matches_reference_and_limit(pair: tuple[str, str], limit: int) -> None:
    a, b = pair
    expected = reference_levenshtein(a, b)
    assert levenshtein(a, b) == expected
    bounded = levenshtein(a, b, limit)
    assert bounded == expected if expected <= limit else bounded > limit


# --------------------------------------------------------------------------- relaxed accuracy

RELAXED_CASES: dict[str, Case] = {
    "exact-number": ("100", ["100"], None, 1.0, True),
    "4.9%-over": ("104.9", ["100"], None, 1.0, True),
    "5.1%-over": ("105.1", ["100"], None, 0.0, True),
    "4.9%-under": ("95.1", ["100"], None, 1.0, True),
    "5.1%-under": ("94.9", ["100"], None, 0.0, True),
    # 1050 vs 1000: exactly 5% -> inside (<=); the thousands comma is removed
    "thousands-comma-at-5%": ("1,050", ["1000"], None, 1.0, True),
    "percent-both": ("12%", ["12%"], None, 1.0, True),
    "percent-as-fraction": ("12%", ["0.12"], None, 1.0, True),
    # the reference implementation divides "45%" by 100: 0.45 vs 45 is far off
    "percent-vs-plain": ("45%", ["45"], None, 0.0, True),
    "negative": ("-10.2", ["-10"], None, 1.0, True),
    "text-casing": ("Yes", ["yes"], None, 1.0, True),
    "text-mismatch": ("yes.", ["yes"], None, 0.0, True),
    # a gold of 0 falls back to string equality
    "gold-zero-equal": ("0", ["0"], None, 1.0, True),
    "gold-zero-close": ("0.01", ["0"], None, 0.0, True),
    "unit-is-text": ("12 million", ["12"], None, 0.0, True),
    "not-a-number-word": ("nan", ["100"], None, 0.0, True),
    "any-gold": ("50", ["abc", "49"], None, 1.0, True),
    "empty-output": ("", ["12"], None, 0.0, True),
}


@table("relaxed_accuracy", RELAXED_CASES)
def test_relaxed_accuracy(prediction, answers, choices, value, parse_ok) -> None:
    check("relaxed_accuracy", prediction, answers, choices, value, parse_ok)


# --------------------------------------------------------------------------- token F1

TOKEN_F1_CASES: dict[str, Case] = {
    "articles-and-case": ("The Red car", ["red car"], None, 1.0, True),
    # {red, car} vs {red, truck}: P = R = 1/2 -> F1 1/2
    "half-overlap": ("red car", ["red truck"], None, 0.5, True),
    # [big, red, car] vs [red, car]: P = 2/3, R = 1 -> 2*(2/3)/(5/3) = 0.8
    "precision-two-thirds": ("a big red car!", ["red car"], None, 0.8, True),
    "max-over-golds": ("red car", ["blue", "red car"], None, 1.0, True),
    "no-overlap": ("blue", ["red"], None, 0.0, True),
    "empty-output": ("", ["red"], None, 0.0, True),
}


@table("token_f1", TOKEN_F1_CASES)
def test_token_f1(prediction, answers, choices, value, parse_ok) -> None:
    result = score("token_f1", prediction, answers, choices)
    assert result.value == pytest.approx(value, abs=1e-12)
    assert result.parse_ok is parse_ok


# --------------------------------------------------------------------------- set F1

SET_F1_CASES: dict[str, Case] = {
    "same-set-other-order": ("cat, dog and bird", ["dog, cat, bird"], None, 1.0, True),
    # {cat, dog} vs {cat, bird}: 2*1/(2+2) = 0.5
    "one-of-two": ("cat, dog", ["cat, bird"], None, 0.5, True),
    "number-words": ("two cats", ["2 cats"], None, 1.0, True),
    "gold-union": ("dog and cat", ["cat", "dog"], None, 1.0, True),
    "articles": ("a cat; the dog", ["cat, dog"], None, 1.0, True),
    # {cat} vs {cat, dog, bird}: 2*1/(1+3) = 0.5
    "subset": ("cat", ["cat, dog, bird"], None, 0.5, True),
    "both-empty": ("", [""], None, 1.0, True),
    "empty-output": ("", ["cat"], None, 0.0, True),
}


@table("set_f1", SET_F1_CASES)
def test_set_f1(prediction, answers, choices, value, parse_ok) -> None:
    check("set_f1", prediction, answers, choices, value, parse_ok)


# --------------------------------------------------------------------------- detection F1

TWO_GOLD = ["[[0, 0, 10, 10], [20, 20, 30, 30]]"]

DETECTION_CASES: dict[str, Case] = {
    # 1 prediction, 2 gold boxes, 1 match: 2*1/(1+2) = 2/3
    "one-of-two-gold-matched": ("[0, 0, 10, 10]", TWO_GOLD, None, 2 / 3, True),
    # 2 predictions, 1 matched: 2*1/(2+2) = 0.5
    "one-of-two-pred-matched": ("[0,0,10,10] and [50, 50, 60, 60]", TWO_GOLD, None, 0.5, True),
    "all-matched-other-order": ("[[20,20,30,30],[0,0,10,10]]", TWO_GOLD, None, 1.0, True),
    "boxes-one-per-answer": (
        "[0,0,10,10] [20,20,30,30]",
        ["[0,0,10,10]", "[20,20,30,30]"],
        None,
        1.0,
        True,
    ),
    # IoU exactly 0.5 (intersection 100, union 200) counts as a match
    "iou-exactly-half": ("[0, 0, 10, 20]", ["[0, 0, 10, 10]"], None, 1.0, True),
    # IoU 50/150 = 1/3 < 0.5
    "iou-a-third": ("[5, 0, 15, 10]", ["[0, 0, 10, 10]"], None, 0.0, True),
    # one-to-one: two copies of one box match one gold once: 2*1/(2+1)
    "one-to-one": ("[0,0,10,10], [0,0,10,10]", ["[0,0,10,10]"], None, 2 / 3, True),
    # greedy by descending IoU: P1-G2 and P2-G2 tie at 90/110, P1 (first) takes G2; P2-G1
    # (60/140) is below 0.5 and P1 is used: 1 match of 2+2 -> 0.5 (an optimal matching
    # would find 2)
    "greedy-not-optimal": ("[2,0,12,10] [4,0,14,10]", ["[0,0,10,10] [3,0,13,10]"], None, 0.5, True),
    "swapped-corners": ("[10, 10, 0, 0]", ["[0, 0, 10, 10]"], None, 1.0, True),
    "floats": ("[0.0, 0.0, 0.5, 0.5]", ["[0, 0, 0.5, 0.5]"], None, 1.0, True),
    "no-box-in-output": ("There are two planes.", TWO_GOLD, None, 0.0, False),
    "empty-output": ("", TWO_GOLD, None, 0.0, False),
    "both-empty": ("[]", ["[]"], None, 1.0, True),
    "empty-output-empty-gold": ("", ["[]"], None, 1.0, True),
    "boxes-but-gold-empty": ("[0, 0, 1, 1]", ["[]"], None, 0.0, True),
}


@table("detection_f1", DETECTION_CASES)
def test_detection_f1(prediction, answers, choices, value, parse_ok) -> None:
    check("detection_f1", prediction, answers, choices, value, parse_ok)


def test_parse_boxes() -> None:
    assert parse_boxes("a [1, 2, 3, 4] b [[5.5,6,7,8]] [1, 2, 3] [inf, 1, 2, 3]") == [
        (1.0, 2.0, 3.0, 4.0),
        (5.5, 6.0, 7.0, 8.0),
    ]
    assert score("detection_f1", "[1,2,3,4]", ["[]"]).parsed == "[[1, 2, 3, 4]]"


# --------------------------------------------------------------------------- multiple choice

ANIMALS = ["cat", "dog", "bird", "fish"]

MC_CASES: dict[str, Case] = {
    "lone-letter": ("B", ["B"], ANIMALS, 1.0, True),
    "lone-lowercase": ("b", ["B"], ANIMALS, 1.0, True),
    "parenthesised": ("(B)", ["B"], ANIMALS, 1.0, True),
    "closing-paren": ("B)", ["B"], ANIMALS, 1.0, True),
    "letter-period": ("B.", ["B"], ANIMALS, 1.0, True),
    "bold": ("**B**", ["B"], ANIMALS, 1.0, True),
    "answer-colon": ("Answer: B", ["B"], ANIMALS, 1.0, True),
    "the-answer-is": ("The answer is B", ["B"], ANIMALS, 1.0, True),
    "the-answer-is-period": ("The answer is B.", ["B"], ANIMALS, 1.0, True),
    "correct-answer-paren": ("The correct answer is (B) dog", ["B"], ANIMALS, 1.0, True),
    "letter-dot-text": ("B. dog", ["B"], ANIMALS, 1.0, True),
    "letter-colon-text": ("B: dog", ["B"], ANIMALS, 1.0, True),
    "letter-paren-in-prose": ("I would say B) is right", ["B"], ANIMALS, 1.0, True),
    "option-word": ("Option B", ["B"], ANIMALS, 1.0, True),
    "option-text": ("dog", ["B"], ANIMALS, 1.0, True),
    "option-text-casing": ("Dog.", ["B"], ANIMALS, 1.0, True),
    "option-text-in-sentence": ("It is clearly a dog", ["B"], ANIMALS, 1.0, True),
    "wrong-letter": ("C", ["B"], ANIMALS, 0.0, True),
    "gold-as-option-text": ("B", ["dog"], ANIMALS, 1.0, True),
    "gold-in-parens": ("B", ["(B)"], ANIMALS, 1.0, True),
    # the article "A" begins prose: the option text decides
    "article-a-is-prose": ("A dog is sitting", ["B"], ANIMALS, 1.0, True),
    "article-a-not-option-a": ("A dog is sitting", ["A"], ANIMALS, 0.0, True),
    "answer-is-article": ("The answer is A dog", ["B"], ANIMALS, 1.0, True),
    "letter-a-before-because": ("The answer is A because it meows", ["A"], ANIMALS, 1.0, True),
    "letter-a-alone": ("A", ["A"], ANIMALS, 1.0, True),
    "letter-a-period-text": ("A. cat", ["A"], ANIMALS, 1.0, True),
    "explicit-answer-beats-echo": ("(A) cat (B) dog. The answer is B", ["B"], ANIMALS, 1.0, True),
    "several-letters": ("A or B", ["B"], ANIMALS, 0.0, False),
    "answer-several-letters": ("The answer is A or B", ["B"], ANIMALS, 0.0, False),
    "answer-letter-list": ("Answer: B, C", ["B"], ANIMALS, 0.0, False),
    "several-markers": ("(A) is wrong, (B) is right", ["B"], ANIMALS, 0.0, False),
    "several-options-words": ("Option A is wrong, option B", ["B"], ANIMALS, 0.0, False),
    "several-option-texts": ("a cat or a dog", ["B"], ANIMALS, 0.0, False),
    "letter-beyond-choices": ("E", ["B"], ANIMALS, 0.0, False),
    "answer-beyond-choices": ("The answer is E", ["B"], ANIMALS, 0.0, False),
    "no-answer": ("I am not sure", ["B"], ANIMALS, 0.0, False),
    "word-suffix-not-marker": ("the cat(s)", ["A"], ANIMALS, 1.0, True),
    "unicode-fullwidth-letter": ("Ｂ", ["B"], ANIMALS, 1.0, True),
    "empty-output": ("", ["B"], ANIMALS, 0.0, False),
    "longer-option-wins": ("It is a black cat", ["B"], ["cat", "black cat"], 1.0, True),
    "no-choices-letters-only": ("The answer is (F)", ["F"], None, 1.0, True),
    "numbers-as-options": ("There are 2 birds", ["B"], ["1", "2", "12"], 1.0, True),
}


@table("multiple_choice", MC_CASES)
def test_multiple_choice(prediction, answers, choices, value, parse_ok) -> None:
    check("multiple_choice", prediction, answers, choices, value, parse_ok)


def test_multiple_choice_parsed_is_the_letter() -> None:
    assert score("multiple_choice", "The answer is (c).", ["A"], ANIMALS).parsed == "C"
    assert score("multiple_choice", "A or B", ["A"], ANIMALS).parsed == ""


@pytest.mark.parametrize("gold", ["E", "elephant", ""])
def test_multiple_choice_bad_gold_is_a_data_error(gold: str) -> None:
    with pytest.raises(ValueError, match="neither an option letter"):
        score("multiple_choice", "A", [gold], ANIMALS)


# --------------------------------------------------------------------------- MMT-Bench GUI

CLICKS = ["(0.12, 0.40)", "(0.55, 0.31)", "(0.90, 0.75)"]

GUI_CASES: dict[str, Case] = {
    "letter": ("B", ["B"], CLICKS, 1.0, True),
    "answer-is": ("The answer is B.", ["B"], CLICKS, 1.0, True),
    "option-text": ("(0.55, 0.31)", ["B"], CLICKS, 1.0, True),
    "wrong": ("C", ["B"], CLICKS, 0.0, True),
    "several": ("A or C", ["B"], CLICKS, 0.0, False),
    "beyond-choices": ("D", ["B"], CLICKS, 0.0, False),
    # no "Unanswerable" rule for GUI (MMT-Bench has none): the letter is read as usual
    "unanswerable-not-special": ("Unanswerable? The answer is B.", ["B"], CLICKS, 1.0, True),
    "empty-output": ("", ["B"], CLICKS, 0.0, False),
}


@table("mmt_gui", GUI_CASES)
def test_mmt_gui(prediction, answers, choices, value, parse_ok) -> None:
    check("mmt_gui", prediction, answers, choices, value, parse_ok)


# --------------------------------------------------------------------------- MathVista

ANGLES = ["145°", "35°", "55°", "75°"]

MATHVISTA_CASES: dict[str, Case] = {
    "int-exact": ("12", ["12"], None, 1.0, True),
    "int-trailing-period": ("12.", ["12"], None, 1.0, True),
    "int-as-float": ("12.0", ["12"], None, 1.0, True),
    "int-thousands": ("1,200", ["1200"], None, 1.0, True),
    "int-negative": ("-3", ["-3"], None, 1.0, True),
    "int-wrong": ("11", ["12"], None, 0.0, True),
    "int-with-unit-after-answer": ("The answer is 12 cm.", ["12"], None, 1.0, True),
    "int-last-answer-marker": ("Answer: 3. Wait, the answer is 4", ["4"], None, 1.0, True),
    "int-only-number": ("There are 7 apples", ["7"], None, 1.0, True),
    "int-several-numbers": ("3 red and 4 blue make 7", ["7"], None, 0.0, False),
    "int-number-word": ("twelve", ["12"], None, 0.0, False),
    "float-trailing-zero": ("1.50", ["1.5"], None, 1.0, True),
    "float-not-rounded": ("1.45", ["1.5"], None, 0.0, True),
    "float-after-answer": ("So the answer is: 0.6", ["0.6"], None, 1.0, True),
    "choice-letter": ("A", ["145°"], ANGLES, 1.0, True),
    "choice-letter-paren": ("(A) 145°", ["145°"], ANGLES, 1.0, True),
    "choice-text": ("145°", ["145°"], ANGLES, 1.0, True),
    "choice-wrong-letter": ("The answer is B", ["145°"], ANGLES, 0.0, True),
    "choice-gold-letter": ("C", ["C"], ANGLES, 1.0, True),
    # upstream reads the article "A" as a token: "A cat" is option A (a defect, kept)
    "choice-article-defect": ("A cat", ["cat"], ["dog", "cat"], 0.0, True),
    "choice-two-letters-no-text": ("A or B", ["145°"], ANGLES, 0.0, False),
    "choice-nothing": ("I cannot tell", ["145°"], ANGLES, 0.0, False),
    "choice-two-texts": ("It is 35° or 55°", ["35°"], ANGLES, 0.0, False),
    "list-gold": ("[1, 2]", ["[1, 2]"], None, 1.0, True),
    "text-gold": ("Yes", ["yes"], None, 1.0, True),
    # no "Unanswerable" rule for Math (eval_math.py has none)
    "unanswerable-not-special": ("Unanswerable: 12", ["12"], None, 1.0, True),
    "empty-output": ("", ["12"], None, 0.0, False),
    "empty-output-choice": ("", ["145°"], ANGLES, 0.0, False),
}


@table("mathvista", MATHVISTA_CASES)
def test_mathvista(prediction, answers, choices, value, parse_ok) -> None:
    check("mathvista", prediction, answers, choices, value, parse_ok)


# --------------------------------------------------------------------------- MLLM-CL rules

RS_AD_CASES: dict[str, Case] = {
    "casing": ("Yes", ["yes"], None, 1.0, True),
    "word-in-sentence": ("There is no road.", ["no"], None, 1.0, True),
    "word-before-comma": ("no, there is none", ["no"], None, 1.0, True),
    # " no" occurs in " not": only the left side is checked (kept)
    "no-matches-not": ("I do not know", ["no"], None, 1.0, True),
    # no space in the prediction: plain substring
    "no-in-nothing": ("nothing", ["no"], None, 1.0, True),
    "prefix-is-not-enough": ("yesterday it was", ["yes"], None, 0.0, True),
    "number-suffix": ("12 cars", ["2"], None, 1.0, True),
    "gold-period-removed": ("5", ["5."], None, 1.0, True),
    "gold-with-space-substring": ("It is a rural area", ["rural area"], None, 1.0, True),
    "gold-with-space-missing": ("rural", ["rural area"], None, 0.0, True),
    "wrong": ("yes", ["no"], None, 0.0, True),
    "unanswerable": ("Unanswerable, but yes", ["yes"], None, 0.0, True),
    # upstream's check is case-sensitive
    "unanswerable-lowercase-not-caught": ("unanswerable yes", ["yes"], None, 1.0, True),
    "empty-output": ("", ["yes"], None, 0.0, True),
}


@table("mllmcl_rs_ad", RS_AD_CASES)
def test_mllmcl_rs_ad(prediction, answers, choices, value, parse_ok) -> None:
    check("mllmcl_rs_ad", prediction, answers, choices, value, parse_ok)


MED_CASES: dict[str, Case] = {
    "substring": ("Yes, it is", ["yes"], None, 1.0, True),
    # the upstream defect, kept: "no" is a substring of "not"
    "no-matches-not": ("not sure", ["no"], None, 1.0, True),
    "no-matches-normal": ("normal tissue", ["no"], None, 1.0, True),
    "miss": ("yes", ["no"], None, 0.0, True),
    "phrase": ("It shows chronic inflammation here", ["Chronic Inflammation"], None, 1.0, True),
    "unanswerable": ("Unanswerable (no)", ["no"], None, 0.0, True),
    "unicode": ("ＹＥＳ", ["yes"], None, 1.0, True),
    "empty-output": ("", ["no"], None, 0.0, True),
}


@table("mllmcl_med", MED_CASES)
def test_mllmcl_med(prediction, answers, choices, value, parse_ok) -> None:
    check("mllmcl_med", prediction, answers, choices, value, parse_ok)


SCI_EXACT_CASES: dict[str, Case] = {
    "casing": ("B", ["b"], None, 1.0, True),
    "punctuation-kept": ("B.", ["b"], None, 0.0, True),
    "surrounding-space": ("  b \n", ["B"], None, 1.0, True),
    "answer-is-not-exact": ("The answer is B", ["B"], None, 0.0, True),
    "unanswerable": ("Unanswerable", ["unanswerable"], None, 0.0, True),
    "empty-output": ("", ["b"], None, 0.0, True),
}


@table("mllmcl_sci_exact", SCI_EXACT_CASES)
def test_mllmcl_sci_exact(prediction, answers, choices, value, parse_ok) -> None:
    check("mllmcl_sci_exact", prediction, answers, choices, value, parse_ok)


STATES = ["Texas, Ohio, Utah"]  # gold items: "texas", " ohio", " utah" (not stripped)

MAPQA_CASES: dict[str, Case] = {
    "all": ("Texas, Ohio, Utah", STATES, None, 1.0, True),
    # items "utah", " texas", " ohio": only " ohio" is a gold item as written -> 1/3
    "other-order-defect": ("Utah, Texas, Ohio", STATES, None, 1 / 3, True),
    "two-of-three": ("Texas, Ohio", STATES, None, 2 / 3, True),
    # no spaces after commas: only "texas" matches an unstripped gold item -> 1/3
    "no-spaces-defect": ("Texas,Ohio,Utah", STATES, None, 1 / 3, True),
    # "ohio" and " texas": "texas" (first gold item, no space) is not among them -> 0/3
    "first-item-moved-defect": ("Ohio, Texas", STATES, None, 0.0, True),
    "unanswerable": ("Unanswerable", STATES, None, 0.0, True),
    "empty-output": ("", STATES, None, 0.0, True),
}


@table("mllmcl_sci_mapqa_states", MAPQA_CASES)
def test_mllmcl_sci_mapqa_states(prediction, answers, choices, value, parse_ok) -> None:
    check("mllmcl_sci_mapqa_states", prediction, answers, choices, value, parse_ok)


SUBSTRING_CASES: dict[str, Case] = {
    "substring": ("The state is texas", ["Texas"], None, 1.0, True),
    "miss": ("Ohio", ["Texas"], None, 0.0, True),
    "unanswerable": ("Unanswerable: Texas", ["Texas"], None, 0.0, True),
    "empty-output": ("", ["Texas"], None, 0.0, True),
}


@table("mllmcl_substring", SUBSTRING_CASES)
def test_mllmcl_substring(prediction, answers, choices, value, parse_ok) -> None:
    check("mllmcl_substring", prediction, answers, choices, value, parse_ok)


FIN_CASES: dict[str, Case] = {
    "yes-period": ("Yes.", ["Yes"], None, 1.0, True),
    "letter": ("B", ["B"], None, 1.0, True),
    "letter-lowercase-period": ("b.", ["B"], None, 1.0, True),
    "spaces-removed": ("Y e s", ["yes"], None, 1.0, True),
    "parenthesised-letter": ("(B)", ["B"], None, 0.0, True),
    "sentence": ("Yes, it rises", ["Yes"], None, 0.0, True),
    "gold-period-kept": ("Yes", ["Yes."], None, 0.0, True),
    "unanswerable": ("Unanswerable", ["Unanswerable"], None, 0.0, True),
    "empty-output": ("", ["Yes"], None, 0.0, True),
}


@table("mllmcl_fin", FIN_CASES)
def test_mllmcl_fin(prediction, answers, choices, value, parse_ok) -> None:
    check("mllmcl_fin", prediction, answers, choices, value, parse_ok)


OCR_CASES: dict[str, Case] = {
    "any-gold-casing": ("The text says HELLO WORLD", ["goodbye", "Hello World"], None, 1.0, True),
    "newline-removed": ("hello\nworld", ["helloworld"], None, 1.0, True),
    "newline-is-not-space": ("hello\nworld", ["hello world"], None, 0.0, True),
    "gold-stripped": ("CAFE 24", ["  cafe 24 "], None, 1.0, True),
    "miss": ("hello", ["world"], None, 0.0, True),
    # no "Unanswerable" rule for OCR (eval_ocr.py has none)
    "unanswerable-not-special": ("Unanswerable. hello", ["hello"], None, 1.0, True),
    "unicode": ("ｃａｆｅ", ["cafe"], None, 1.0, True),
    "empty-output": ("", ["hello"], None, 0.0, True),
}


@table("ocrbench", OCR_CASES)
def test_ocrbench(prediction, answers, choices, value, parse_ok) -> None:
    check("ocrbench", prediction, answers, choices, value, parse_ok)


HME_CASES: dict[str, Case] = {
    "spaces-removed": ("x^2+1", ["x ^ 2 + 1"], None, 1.0, True),
    "newlines-removed": ("\\frac{a}\n{b}", ["\\frac {a} {b}"], None, 1.0, True),
    "case-kept": ("x^2", ["X^2"], None, 0.0, True),
    "case-kept-prediction": ("X^2", ["x^2"], None, 0.0, True),
    "substring": ("$$ y = x ^ 2 $$", ["x^2"], None, 1.0, True),
    "unanswerable-not-special": ("Unanswerable x^2", ["x^2"], None, 1.0, True),
    "empty-output": ("", ["x^2"], None, 0.0, True),
}


@table("ocrbench_hme", HME_CASES)
def test_ocrbench_hme(prediction, answers, choices, value, parse_ok) -> None:
    check("ocrbench_hme", prediction, answers, choices, value, parse_ok)


VP_CASES: dict[str, Case] = {
    "number-in-sentence": ("There are 3.", ["3"], None, 1.0, True),
    "spaces-and-periods": ("T w o.", ["two"], None, 1.0, True),
    "option-letter-form": ("(C) 3", ["(C)"], None, 1.0, True),
    # substring after removing spaces: gold "2" is in "12" (kept)
    "digit-inside-number": ("12", ["2"], None, 1.0, True),
    "miss": ("4", ["3"], None, 0.0, True),
    # no "Unanswerable" rule for VP
    "unanswerable-not-special": ("Unanswerable 3", ["3"], None, 1.0, True),
    "empty-output": ("", ["3"], None, 0.0, True),
}


@table("mllmcl_vp", VP_CASES)
def test_mllmcl_vp(prediction, answers, choices, value, parse_ok) -> None:
    check("mllmcl_vp", prediction, answers, choices, value, parse_ok)


# UCIT's eval_deepseek_r1.py, CoIN's eval_vizwiz.py/eval_vqav2.py: pred.upper() == answer.upper()
UCIT_CASES: dict[str, Case] = {
    "same": ("goldfish", ["Goldfish"], None, 1.0, True),
    "stripped prediction": ("  Goldfish\n", ["Goldfish"], None, 1.0, True),
    "period is not removed": ("Goldfish.", ["Goldfish"], None, 0.0, True),
    "no article removal": ("a goldfish", ["goldfish"], None, 0.0, True),
    "numbers as written": ("2", ["two"], None, 0.0, True),
    "letter": ("b", ["B"], None, 1.0, True),
    "containment is not enough": ("B. falling", ["B"], None, 0.0, True),
}


@table("exact_upper", UCIT_CASES)
def test_exact_upper(prediction, answers, choices, value, parse_ok) -> None:
    check("exact_upper", prediction, answers, choices, value, parse_ok)


# CoIN, zackschen/CoIN@4122465: ETrain/Eval/LLaVA/CoIN/eval_*.py
IMAGENET_CASES: dict[str, Case] = {
    "same": ("goldfish", ["goldfish"], None, 1.0, True),
    "gold in prediction": ("It is a goldfish.", ["goldfish"], None, 1.0, True),
    "prediction in gold": ("goldfish", ["goldfish, Carassius auratus"], None, 1.0, True),
    "case kept": ("Goldfish", ["goldfish"], None, 0.0, True),
    "other": ("shark", ["goldfish"], None, 0.0, True),
}
GQA_CASES: dict[str, Case] = {
    "lowercased": ("Yes", ["yes"], None, 1.0, True),
    "trailing periods go": ("left..", ["left"], None, 1.0, True),
    "gold as is": ("yes", ["Yes"], None, 0.0, True),
    "no containment": ("yes, it is", ["yes"], None, 0.0, True),
}
OCRVQA_CASES: dict[str, Case] = {
    "lowercase equality": ("jane austen", ["Jane Austen"], None, 1.0, True),
    "Unanswerable is wrong": ("Unanswerable", ["Unanswerable"], None, 0.0, True),
    "no containment": ("By Jane Austen", ["Jane Austen"], None, 0.0, True),
}
SQA_CASES: dict[str, Case] = {
    "letter": ("B", ["B"], None, 1.0, True),
    "letter and text": ("B. bird", ["B"], None, 1.0, True),
    "first one-letter word": ("The answer is C.", ["C"], None, 1.0, True),
    "an article counts (LLaVA's rule)": ("a bird", ["B"], None, 0.0, True),
    "lowercase letter": ("c", ["C"], None, 1.0, True),
    "no letter": ("bird", ["B"], None, 0.0, False),
}
GROUNDING_CASES: dict[str, Case] = {
    "same box": ("[0.1, 0.2, 0.5, 0.9]", ["[0.1, 0.2, 0.5, 0.9]"], None, 1.0, True),
    "IoU above 0.5": ("[0.1, 0.2, 0.5, 0.7]", ["[0.1, 0.2, 0.5, 0.9]"], None, 1.0, True),
    "IoU below 0.5": ("[0.1, 0.2, 0.5, 0.5]", ["[0.1, 0.2, 0.5, 0.9]"], None, 0.0, True),
    "last digit kept": ("[0.1, 0.2, 0.5, 0.35]", ["[0.1, 0.2, 0.5, 0.3]"], None, 1.0, True),
    "no box": ("the man", ["[0.1, 0.2, 0.5, 0.9]"], None, 0.0, False),
}


@table("coin_imagenet", IMAGENET_CASES)
def test_coin_imagenet(prediction, answers, choices, value, parse_ok) -> None:
    check("coin_imagenet", prediction, answers, choices, value, parse_ok)


@table("coin_gqa", GQA_CASES)
def test_coin_gqa(prediction, answers, choices, value, parse_ok) -> None:
    check("coin_gqa", prediction, answers, choices, value, parse_ok)


@table("coin_ocrvqa", OCRVQA_CASES)
def test_coin_ocrvqa(prediction, answers, choices, value, parse_ok) -> None:
    check("coin_ocrvqa", prediction, answers, choices, value, parse_ok)


@table("coin_sqa", SQA_CASES)
def test_coin_sqa(prediction, answers, choices, value, parse_ok) -> None:
    check("coin_sqa", prediction, answers, choices, value, parse_ok)


@table("coin_grounding", GROUNDING_CASES)
def test_coin_grounding(prediction, answers, choices, value, parse_ok) -> None:
    check("coin_grounding", prediction, answers, choices, value, parse_ok)


# --------------------------------------------------------------------------- shared rules

# A (prediction, answers, choices) that scores 1 for each scorer the Unanswerable rule covers.
RIGHT = {
    "mllmcl_rs_ad": ("yes", ["yes"], None),
    "mllmcl_med": ("yes", ["yes"], None),
    "mllmcl_sci_exact": ("b", ["B"], None),
    "mllmcl_sci_mapqa_states": ("texas", ["Texas"], None),
    "mllmcl_substring": ("texas", ["Texas"], None),
    "mllmcl_fin": ("yes", ["Yes"], None),
    "coin_ocrvqa": ("austen", ["Austen"], None),
}


def covered_by_unanswerable(name: str) -> bool:
    # RS/AD, Med, Sci and Fin only: the scripts at bjzhb666/MLLM-CL@80bf389 that have the rule;
    # and CoIN's eval_ocrvqa.py
    return (name.startswith("mllmcl_") and name != "mllmcl_vp") or name == "coin_ocrvqa"


def test_unanswerable_rule_covers_the_mllmcl_family() -> None:
    assert sorted(RIGHT) == sorted(n for n in scorer_names() if covered_by_unanswerable(n))


@pytest.mark.parametrize("name", sorted(RIGHT))
@pytest.mark.parametrize("where", ["before", "after"])
def test_unanswerable_counts_as_wrong(name: str, where: str) -> None:
    prediction, answers, choices = RIGHT[name]
    assert score(name, prediction, answers, choices).value == 1.0
    spoilt = f"Unanswerable {prediction}" if where == "before" else f"{prediction} Unanswerable"
    result = score(name, spoilt, answers, choices)
    assert result == Score(0.0, "Unanswerable", True)


@pytest.mark.parametrize(
    # coin_sqa reads a letter; coin_gqa lowercases the output but not the gold (as upstream)
    "name",
    [
        n
        for n in EXPECTED_NAMES
        if not covered_by_unanswerable(n) and n not in ("coin_sqa", "coin_gqa")
    ],
)
def test_unanswerable_is_just_text_elsewhere(name: str) -> None:
    boxes = name in ("detection_f1", "coin_grounding")
    choices = ["Unanswerable", "other"] if name in ("multiple_choice", "mmt_gui") else None
    answers = ["[0, 0, 1, 1]"] if boxes else ["Unanswerable"]
    prediction = "Unanswerable [0, 0, 1, 1]" if boxes else "Unanswerable"
    result = score(name, prediction, answers, choices)
    assert result.value == 1.0, result


CHOICE_SCORERS = {"multiple_choice", "mmt_gui", "mathvista"}


@pytest.mark.parametrize("name", EXPECTED_NAMES)
def test_empty_prediction(name: str) -> None:
    choices = ANIMALS if name in CHOICE_SCORERS else None
    answers = ["B"] if name in CHOICE_SCORERS else ["[0, 0, 1, 1]"]
    result = score(name, " \n ", answers, choices)
    assert result.value == 0.0
    # choice/number scorers, detection (no box) and ScienceQA's letter fail to parse; text
    # scorers do not
    assert result.parse_ok is (name not in CHOICE_SCORERS | {"detection_f1", "coin_sqa"})


@pytest.mark.parametrize("name", sorted(set(EXPECTED_NAMES) - CHOICE_SCORERS))
def test_empty_prediction_is_wrong_even_against_an_empty_gold(name: str) -> None:
    # An empty string is contained in (and equal to) an empty gold: the rule comes first.
    # Only the list scorers treat an empty output as an empty list, right for an empty gold.
    expected = 1.0 if name in ("set_f1", "detection_f1") else 0.0
    assert score(name, "", [""]).value == expected
    assert score(name, "\n", ["\n"]).value == expected


def test_every_scorer_has_a_table() -> None:
    assert set(EXPECTED_NAMES) <= TESTED


# --------------------------------------------------------------------------- determinism

TEXTS = st.one_of(
    st.text(max_size=24),
    st.sampled_from(
        [
            "yes", "No.", "two", "2", "1,000", "3.5", "A", "(B)", "The answer is C",
            "A cat", "Answer: A or B", "Unanswerable", "[0, 0, 10, 10]", "[[1,2,3,4],[5,6,7,8]]",
            "Texas, Ohio", "dont", "ｙｅｓ", "12%", "x ^ 2", "", "  ", "cat, dog and bird",
        ]
    ),
)  # fmt: skip


@st.composite
def items(draw: st.DrawFn) -> tuple[str, str, list[str], list[str] | None]:
    name = draw(st.sampled_from(EXPECTED_NAMES))
    prediction = draw(st.lists(TEXTS, min_size=1, max_size=3).map(" ".join))
    if name in CHOICE_SCORERS and (name != "mathvista" or draw(st.booleans())):
        choices = draw(st.lists(TEXTS, min_size=2, max_size=6))
        answers = [scoring.registry.LETTERS[draw(st.integers(0, len(choices) - 1))]]
    else:
        choices = None
        answers = draw(st.lists(TEXTS, min_size=1, max_size=10))
    return name, prediction, answers, choices


def run_all(module: ModuleType, batch: list) -> list[tuple[float, str, bool, bool]]:
    return [dataclasses.astuple(module.score(*item)) for item in batch]


@pytest.fixture(scope="module")
def fresh() -> ModuleType:
    return fresh_module()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(items(), min_size=1, max_size=25), st.randoms(use_true_random=False))
def test_scores_do_not_depend_on_order_batch_or_registry(
    fresh: ModuleType, batch: list, rng: random.Random
) -> None:
    first = run_all(scoring, batch)
    for value, parsed, parse_ok, judge_needed in first:
        assert 0.0 <= value <= 1.0
        assert isinstance(value, float) and isinstance(parsed, str) and isinstance(parse_ok, bool)
        assert isinstance(judge_needed, bool)
    # repeated
    assert run_all(scoring, batch) == first
    # shuffled order
    order = list(range(len(batch)))
    rng.shuffle(order)
    shuffled = run_all(scoring, [batch[i] for i in order])
    assert [shuffled[order.index(i)] for i in range(len(batch))] == first
    # one at a time, from a fresh copy of the module (its own registry and empty caches)
    assert [run_all(fresh, [item])[0] for item in batch] == first
