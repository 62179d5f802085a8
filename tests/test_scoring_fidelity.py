"""Scorers against their references (issue 17): the answer forms models write, the rules of
the authors' code (bjzhb666/MLLM-CL@80bf389, MMT-Bench/VLMEvalKit ``can_infer``, lmms-eval's
DocVQA ANLS, OCRBench), and which items a reference would have sent to its LLM judge.

Every expected value is written out by hand (the arithmetic in a comment where it is not
obvious), never computed by the code under test. Each table holds both sides: the forms that
must be read as the intended letter, and the look-alikes that must never be credited.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace

import pytest

from benchmark.scoring import CellScore, Score, aggregate, score
from benchmark.suites.sources import mllm_cl

# Option texts that occur in none of the answers below, so only the letter reading decides.
COLORS = ["red", "green", "blue", "yellow"]

# --------------------------------------------------------------------------- defect 1

# prediction -> the letter it must be read as (the gold is that letter: value 1, parsed)
READ_AS: dict[str, str] = {
    "B is correct.": "B",
    "B is the correct answer.": "B",
    "B is the answer": "B",
    "(B) is the correct option": "B",
    "**Answer:** B": "B",
    "**Answer**: B": "B",
    "Answer: **B**": "B",
    "It is B.": "B",
    "It's B": "B",
    "This is B": "B",
    "Therefore, B.": "B",
    "So, B.": "B",
    "So B": "B",
    "Thus, B": "B",
    "I think B": "B",
    "I think B because it is blue": "B",
    "I believe B.": "B",
    "I choose B": "B",
    "I select B.": "B",
    "I pick B": "B",
    "I'd pick B": "B",
    "I would go with B.": "B",
    "Option: B": "B",
    "答案是B": "B",
    "答案：B": "B",  # full-width colon, NFKC-normalised first
    "答案是 B。": "B",
    "Let me look at the colours.\nB is correct.": "B",
    # the article side of "A", read as a letter where the phrase says so
    "A is correct.": "A",
    "A is the answer": "A",
    "It is A.": "A",
    "So, A.": "A",
    "Therefore, A": "A",
    "I think A": "A",
    "I choose A.": "A",
    "Option: A": "A",
    "答案是A": "A",
}

# predictions from which no letter may be read (no option text matches either): parse failure
NO_LETTER: dict[str, str] = {
    "article-dog": "A dog is sitting on the bench",
    "i-think-article-lowercase": "I think a dog",
    "i-think-article-uppercase": "I think A dog is sitting",
    "it-is-article-lowercase": "It is a dog",
    "it-is-article-uppercase": "It is A dog",
    "so-article": "So a dog is there",
    "so-article-uppercase": "So A dog is there",
    "therefore-article": "Therefore, A dog sits",
    "two-letters-and": "A and B",
    "two-letters-or": "B or C",
    "i-think-two-letters": "I think B or C",
    "so-two-letters": "So, B or C.",
    "a-or-b-is-correct": "A or B is correct",
    "not-b": "not B",
    "it-is-not-b": "It is not B",
    "answer-is-not-b": "The answer is not B",
    "b-is-not-correct": "B is not correct",
    "b-isnt-right": "B isn't right",
    "b-is-wrong": "B is wrong",
    "so-b-is-wrong": "So B is wrong",
    "answer-b-is-wrong": "Answer: B is wrong",
    "refusal": "Cannot determine the answer",
    "options-echo": "Options: A. cat B. dog",
    "letter-inside-a-phrase": "Plan B is correct",
    "letter-glued-to-a-word": "It is B12",
    "letter-then-a-noun": "It is B dog",
    "i-think-so": "I think so",
    "it-is-x-ray": "It is X-ray",
}


@pytest.mark.parametrize("scorer", ["multiple_choice", "mmt_gui"])
@pytest.mark.parametrize(("prediction", "letter"), list(READ_AS.items()), ids=list(READ_AS))
def test_answer_forms_read_as_the_intended_letter(scorer: str, prediction: str, letter: str):
    result = score(scorer, prediction, [letter], COLORS)
    assert (result.value, result.parsed, result.parse_ok) == (1.0, letter, True), result
    other = "C" if letter != "C" else "D"
    wrong = score(scorer, prediction, [other], COLORS)
    assert (wrong.value, wrong.parsed, wrong.parse_ok) == (0.0, letter, True), wrong


@pytest.mark.parametrize("scorer", ["multiple_choice", "mmt_gui"])
@pytest.mark.parametrize("prediction", list(NO_LETTER.values()), ids=list(NO_LETTER))
def test_look_alikes_credit_no_letter(scorer: str, prediction: str) -> None:
    for gold in "ABCD":
        result = score(scorer, prediction, [gold], COLORS)
        assert (result.value, result.parsed, result.parse_ok) == (0.0, "", False), (gold, result)


# Both readings of the same words, with option texts that can decide the prose reading.
ANIMALS = ["cat", "dog", "bird", "fish"]
BOTH_READINGS: list[tuple[str, str, str | None]] = [
    # (prediction, gold, letter read or None for a parse failure)
    ("A is correct.", "A", "A"),
    ("A dog is correct.", "B", "B"),  # the article: option text "dog"
    ("It is A.", "A", "A"),
    ("It is A dog.", "B", "B"),
    ("It is a dog.", "B", "B"),
    ("I think A", "A", "A"),
    ("I think A cat is there", "A", "A"),  # option text "cat", not the letter
    ("I think A bird is there", "C", "C"),
    ("So, A.", "A", "A"),
    ("So a fish.", "D", "D"),
    ("I think B or C", "B", None),
    ("B is correct, not C", "B", "B"),
    ("C is not correct; B is correct.", "B", "B"),
    ("(A) cat (B) dog. It is B.", "B", "B"),
    ("I think A. The answer is B.", "B", None),  # two statements disagree: never a guess
]


@pytest.mark.parametrize(("prediction", "gold", "letter"), BOTH_READINGS)
def test_both_readings(prediction: str, gold: str, letter: str | None) -> None:
    result = score("multiple_choice", prediction, [gold], ANIMALS)
    if letter is None:
        assert (result.value, result.parsed, result.parse_ok) == (0.0, "", False), result
    else:
        assert (result.value, result.parsed, result.parse_ok) == (
            1.0 if letter == gold else 0.0,
            letter,
            True,
        ), result


# --------------------------------------------------------------------------- defect 2

Case = tuple[str, str, Sequence[str], Sequence[str] | None, float]

UNANSWERABLE: list[Case] = [
    # no rule where the authors' scripts have none: OCR, VP, Math, GUI
    ("ocrbench", "Unanswerable. hello", ["hello"], None, 1.0),
    ("ocrbench_hme", "Unanswerable x^2", ["x^2"], None, 1.0),
    ("mllmcl_vp", "Unanswerable 3", ["3"], None, 1.0),
    ("mathvista", "Unanswerable: 12", ["12"], None, 1.0),
    ("mmt_gui", "Unanswerable? The answer is B.", ["B"], ["x", "y"], 1.0),
    # the rule where they have it: RS/AD (eval_ai2d.py), Med, Sci, Fin
    ("mllmcl_rs_ad", "Unanswerable, yes", ["yes"], None, 0.0),
    ("mllmcl_med", "Unanswerable (no)", ["no"], None, 0.0),
    ("mllmcl_sci_exact", "Unanswerable", ["Unanswerable"], None, 0.0),
    ("mllmcl_sci_mapqa_states", "Unanswerable", ["Unanswerable"], None, 0.0),
    ("mllmcl_substring", "Unanswerable: Texas", ["Texas"], None, 0.0),
    ("mllmcl_fin", "Unanswerable", ["Unanswerable"], None, 0.0),
]


@pytest.mark.parametrize(("scorer", "prediction", "answers", "choices", "value"), UNANSWERABLE)
def test_unanswerable_rule_only_where_the_scripts_have_it(
    scorer: str, prediction: str, answers: Sequence[str], choices, value: float
) -> None:
    assert score(scorer, prediction, answers, choices).value == value


# --------------------------------------------------------------------------- defects 3-5

ANLS: list[tuple[str, str, float]] = [
    # (prediction, gold, value). The distance is between the collapsed strings; it is divided
    # by the longer *raw* length, len(x.upper()).
    # "new yor" vs "new york": distance 1; raw gold "new\n\nyork" has 9 characters: 1 - 1/9
    ("new yor", "new\n\nyork", 1.0 - 1 / 9),
    # "w x y z" vs "a b c d": distance 4; raw gold "a  b  c  d" has 10: 1 - 4/10 = 0.6
    # (divided by the collapsed length 7 it would be 0.43, below the threshold: 0)
    ("w x y z", "a  b  c  d", 1.0 - 4 / 10),
    # no whitespace to collapse: unchanged, 1 - 1/5
    ("hell", "hello", 1.0 - 1 / 5),
]


@pytest.mark.parametrize(("prediction", "gold", "value"), ANLS)
def test_anls_divides_by_the_raw_length(prediction: str, gold: str, value: float) -> None:
    assert score("anls", prediction, [gold]).value == pytest.approx(value, abs=1e-12)


HME: list[tuple[str, str, float]] = [
    ("x^2", "x^2\t", 1.0),  # the gold is stripped (tab included), then spaces/newlines go
    ("x^2", "\r\nx^2", 1.0),
    ("x^2", " x ^ 2 ", 1.0),
    ("X^2", "x^2", 0.0),  # case kept
]


@pytest.mark.parametrize(("prediction", "gold", "value"), HME)
def test_ocrbench_hme_strips_the_gold(prediction: str, gold: str, value: float) -> None:
    assert score("ocrbench_hme", prediction, [gold]).value == value


MATH_NUMBERS: list[tuple[str, str, float]] = [
    # Python's int()/float() of the whole output, as upstream's prefetch
    ("1_000", "1000", 1.0),
    ("1_000", "1", 0.0),
    ("2_5.5", "25.5", 1.0),
    ("+7", "7", 1.0),
]


@pytest.mark.parametrize(("prediction", "gold", "value"), MATH_NUMBERS)
def test_mathvista_reads_numbers_as_python_does(prediction: str, gold: str, value: float):
    result = score("mathvista", prediction, [gold])
    assert (result.value, result.parse_ok, result.judge_needed) == (value, True, False), result


# --------------------------------------------------------------------------- defect 6


@pytest.mark.parametrize(
    ("gold", "yes_no"),
    [("Yes", True), ("No", True), ("yes", False), ("NO", False), ("No.", False), ("B", False)],
)
def test_fin_suffix_only_for_exactly_yes_or_no(gold: str, yes_no: bool) -> None:
    item = mllm_cl.Item("f0", 0, [], [], "Will it rise?", (gold,), "mllmcl_fin")
    spec = SimpleNamespace(prompt_suffix="YESNO", choice_suffix="LETTER")
    mllm_cl._fin(item, SimpleNamespace(spec=spec))  # type: ignore[arg-type]
    assert item.suffix == ("YESNO" if yes_no else "LETTER")


# --------------------------------------------------------------------------- judge share

JUDGE: list[tuple[str, str, Sequence[str], Sequence[str] | None, float, bool, bool]] = [
    # (scorer, prediction, answers, choices, value, parse_ok, judge_needed)
    # can_infer reads a lone letter token, or exactly one option text: no judge
    ("multiple_choice", "B", ["B"], ANIMALS, 1.0, True, False),
    ("multiple_choice", "B is correct.", ["B"], ANIMALS, 1.0, True, False),
    ("multiple_choice", "a dog", ["B"], ANIMALS, 1.0, True, False),
    # can_infer reads the article "A" as option A: no judge (we read option B, "dog")
    ("multiple_choice", "A dog is sitting", ["B"], ANIMALS, 1.0, True, False),
    # a refusal is "Z" to can_infer: no judge; to us, no letter
    ("multiple_choice", "Cannot determine the answer", ["B"], ANIMALS, 0.0, False, False),
    # "答案是B" is one token, no option text: the reference asks its judge; we read B
    ("multiple_choice", "答案是B", ["B"], ANIMALS, 1.0, True, True),
    # several letter tokens, no single text: judge; we read the stated one
    ("multiple_choice", "(A) cat (B) dog. The answer is B", ["B"], ANIMALS, 1.0, True, True),
    ("multiple_choice", "I am not sure", ["B"], ANIMALS, 0.0, False, True),
    ("mmt_gui", "", ["B"], ["x", "y"], 0.0, False, True),
    ("mmt_gui", "A or B", ["B"], ["x", "y"], 0.0, False, True),
    ("mmt_gui", "B", ["B"], ["x", "y"], 1.0, True, False),
    # MathVista: int()/float() of the whole output, else the judge
    ("mathvista", "12", ["12"], None, 1.0, True, False),
    ("mathvista", "11", ["12"], None, 0.0, True, False),
    ("mathvista", "12.", ["12"], None, 1.0, True, True),
    ("mathvista", "The answer is 12 cm.", ["12"], None, 1.0, True, True),
    ("mathvista", "twelve", ["12"], None, 0.0, False, True),
    ("mathvista", "", ["12"], None, 0.0, False, True),
    ("mathvista", "1.5", ["1.5"], None, 1.0, True, False),
    ("mathvista", "[1, 2]", ["[1, 2]"], None, 1.0, True, True),  # rules never read lists
    ("mathvista", "A", ["145°"], ["145°", "35°"], 1.0, True, False),
    ("mathvista", "Cannot determine the answer", ["145°"], ["145°", "35°"], 0.0, True, False),
    ("mathvista", "Z", ["145°"], ["145°", "35°"], 0.0, True, False),
    ("mathvista", "I cannot tell", ["145°"], ["145°", "35°"], 0.0, False, True),
    # references without a judge never need one
    ("vqa_accuracy", "", ["cat"], None, 0.0, True, False),
    ("mllmcl_med", "no idea", ["yes"], None, 0.0, True, False),
    ("ocrbench", "hello", ["hello"], None, 1.0, True, False),
]


@pytest.mark.parametrize(
    ("scorer", "prediction", "answers", "choices", "value", "parse_ok", "judge"), JUDGE
)
def test_judge_needed(scorer, prediction, answers, choices, value, parse_ok, judge) -> None:
    result = score(scorer, prediction, answers, choices)
    assert (result.value, result.parse_ok, result.judge_needed) == (value, parse_ok, judge), result


def test_aggregate_counts_judge_needed() -> None:
    scores = [
        Score(1.0, "B", True),
        Score(1.0, "12", True, True),
        Score(0.0, "", False, True),
        Score(0.0, "", False),
    ]
    assert aggregate(scores) == CellScore(50.0, 4, 2, 2)
    assert aggregate([]).judge_needed == 0
