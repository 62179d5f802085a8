"""Scoring throughput: items per second through ``score()`` for one million predictions.

Run: ``.venv/bin/python -m pytest tests/perf/test_scoring_perf.py -s -p no:cacheprovider``.
The predictions are built deterministically (index arithmetic, no randomness) as a mix of
typical short answers, variants (casing, punctuation, articles, number words, "the answer
is"), and unique strings that defeat the normalisers' caches; the caches are emptied before
each timed pass, so the figures include their warm-up. Only sanity is asserted.

Then every registered scorer on 100,000-character hostile predictions (runs of spaces,
punctuation, digits, brackets, newlines, combining marks …), each call against a generous
bound: scoring must take time about linear in the prediction's length.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import pytest

import benchmark.scoring as scoring
from benchmark.scoring import aggregate, score

pytestmark = pytest.mark.perf

N = 1_000_000
GOLD_POOL = 100_003  # distinct gold lists, about the size of a large VQA test split

WORDS = [
    "yes", "no", "2", "3", "1", "0", "red", "blue", "white", "black", "green", "dog", "cat",
    "tennis", "frisbee", "pizza", "kitchen", "skateboarding", "left", "right", "man", "woman",
    "wood", "grass", "snow", "water", "bus", "train", "giraffe", "umbrella", "10", "12:30",
    "baseball bat", "stop sign", "fire hydrant", "cell phone", "hot dog", "teddy bear",
]  # fmt: skip
NUMBER_WORDS = {"0": "zero", "1": "one", "2": "two", "3": "three", "10": "ten"}


def vqa_prediction(i: int, golds: Sequence[str] = ()) -> str:
    """A short answer: two times in three one of the item's gold answers, in some form."""
    word = golds[(i * 7) % len(golds)] if golds and i % 3 else WORDS[(i * 7919) % len(WORDS)]
    kind = i % 8
    if kind == 0:
        return word.capitalize()
    if kind == 1:
        return f"{word}."
    if kind == 2:
        return f"the {word}"
    if kind == 3:
        return NUMBER_WORDS.get(word, word)
    if kind == 4:
        return f"{word} {i}"  # unique: a cache miss every time
    if kind == 5:
        return f"It is {word}, I think!"
    return word


def vqa_golds(j: int) -> tuple[str, ...]:
    # 10 annotators agreeing more or less: 2-4 distinct answers per item
    main = WORDS[(j * 31) % len(WORDS)]
    second = WORDS[(j * 17 + 5) % len(WORDS)]
    third = WORDS[(j * 13 + 11) % len(WORDS)]
    split = 4 + j % 5
    return (main,) * split + (second,) * (9 - split) + (f"{third} {j % 97}",)


OPTION_SETS = [
    ("cat", "dog", "bird", "fish"),
    ("red", "green", "blue"),
    ("145°", "35°", "55°", "75°", "90°"),
    ("Yes", "No"),
]


def mc_prediction(i: int, choices: Sequence[str]) -> str:
    letter = "ABCDE"[(i * 3) % len(choices)]
    text = choices[(i * 5) % len(choices)]
    kind = i % 9
    forms = [
        letter,
        f"({letter})",
        f"{letter}. {text}",
        f"The answer is {letter}.",
        text,
        f"Answer: {letter}",
        f"A {text} is shown in picture {i}",
        f"{letter} or B",
        f"I think it is {text} because of the shape {i}",
    ]
    return forms[kind]


def anls_pair(i: int) -> tuple[str, str]:
    gold = f"invoice no. {i % 9973:05d} dated {i % 28 + 1} march"
    kind = i % 5
    if kind == 0:
        return gold.upper(), gold
    if kind == 1:
        return gold.replace("march", "mar"), gold
    if kind == 2:
        return f"{i % 9973:05d}", gold
    if kind == 3:
        return "The total amount due is $1,234.56", gold
    return gold[::-1], gold


def clear_caches() -> None:
    scoring.text._VQA_CACHE.clear()
    scoring.choice._choose.cache_clear()
    scoring.registry._result.cache_clear()
    scoring.choice._gold_letter.cache_clear()


def timed(
    name: str, items: list[tuple[str, Sequence[str], Sequence[str] | None]]
) -> tuple[float, float, list[scoring.Score]]:
    """(items per wall-clock second, items per CPU second of this process, the scores)."""
    wall, cpu = time.perf_counter(), time.process_time()
    results = [score(name, p, a, c) for p, a, c in items]
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return len(items) / wall, len(items) / cpu, results


def report(name: str, wall: float, cpu: float, results: list[scoring.Score], note: str) -> None:
    cell = aggregate(results)
    print(
        f"{name:<16} {wall:>10,.0f} items/s wall {cpu:>10,.0f} items/s CPU   {note}  "
        f"n={cell.n:,} accuracy={cell.accuracy:.2f} parse_failures={cell.parse_failures:,}"
    )
    assert cell.n == N
    assert all(0.0 <= r.value <= 1.0 for r in results)
    assert 0.0 < cell.accuracy < 100.0  # a mix of hits and misses, not a degenerate input
    assert wall > 0 and math.isfinite(wall)


def vqa_items() -> list:
    pool = [vqa_golds(j) for j in range(GOLD_POOL)]
    return [(vqa_prediction(i, pool[i % GOLD_POOL]), pool[i % GOLD_POOL], None) for i in range(N)]


def exact_items() -> list:
    golds = [(WORDS[(i * 31) % len(WORDS)],) for i in range(N)]
    return [(vqa_prediction(i, gold), gold, None) for i, gold in enumerate(golds)]


def mc_items() -> list:
    items = []
    for i in range(N):
        choices = OPTION_SETS[i % len(OPTION_SETS)]
        gold = "ABCDE"[i % len(choices)]
        items.append((mc_prediction(i, choices), (gold,), choices))
    return items


def anls_items() -> list:
    return [(p, (g,), None) for p, g in map(anls_pair, range(N))]


BUILDERS: dict[str, Callable[[], list]] = {
    "vqa_accuracy": vqa_items,
    "multiple_choice": mc_items,
    "anls": anls_items,
    "exact_match": exact_items,
}


@pytest.mark.parametrize("name", list(BUILDERS))
def test_scoring_throughput(name: str) -> None:
    items = BUILDERS[name]()
    assert len(items) == N
    clear_caches()
    wall, cpu, results = timed(name, items)
    report(name, wall, cpu, results, "cold caches")
    # the same items again give the same scores (and show the warm-cache rate)
    wall, cpu, again = timed(name, items)
    report(name, wall, cpu, again, "warm caches")
    assert again == results


# --------------------------------------------------------------------------- hostile predictions
# Every registered scorer on 100,000-character adversarial predictions: each must take time
# about linear in the length (set_f1 once took 34 s on 40,000 spaces; NFKC sorts a run of
# combining marks in quadratic time). The bound is generous: a linear scorer takes a few
# tens of milliseconds here, a quadratic one minutes.

HOSTILE_N = 100_000
HOSTILE_BOUND_S = 5.0


def _repeat(unit: str, n: int) -> str:
    return (unit * (n // len(unit) + 1))[:n]


def hostile_predictions(n: int) -> dict[str, str]:
    marks = "\u0301\u0316"  # combining classes 230 then 220: the reverse of canonical order
    return {
        "spaces": "a" + " " * (n - 2) + "b",
        "tabs": "a" + "\t" * (n - 2) + "b",
        "newlines": "\n" * (n // 2) + "x" + "\n" * (n // 2),
        "spaces and newlines": _repeat(" \n", n),
        "punctuation": _repeat("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", n),
        "periods": "." * n,
        "commas": "," * n,
        "commas and spaces": _repeat(", ", n),
        "digits": "1" * n,
        "digits then a letter": "1" * (n - 1) + "x",
        "thousands": _repeat("1,000", n),
        "decimal": "1." + "2" * (n - 3) + "x",
        "exponent": "1e" + "1" * (n - 2),
        "percent": "1" * (n - 1) + "%",
        "open brackets": "[" * n,
        "bracket then spaces": "[" + " " * (n - 2) + "x",
        "bracket then digits": "[" + "1" * (n - 2) + "x",
        "open boxes": _repeat("[1, 2, 3, ", n),
        "boxes": _repeat("[1, 2, 3, 4] ", n),
        "bracketed letters": _repeat("(A) ", n),
        "letter list": "answer: " + _repeat("A, ", n - 8),
        "answer then spaces": "answer is" + " " * (n - 10) + "x",
        "answers": _repeat("answer is ", n),
        "option then spaces": "option" + " " * (n - 7) + "1",
        "line markers": _repeat("\nA. ", n),
        "and": _repeat(" and  ", n),
        "one word": "a" * n,
        "articles": _repeat("the cat ", n),
        "unicode": _repeat("é中\u00a0😀", n),
        "full-width": _repeat("１，２", n),
        "expanding ligature": "\ufdfa" * n,
        "marks descending": "a" + marks[0] * (n // 2) + marks[1] * (n // 2 - 1),
        "marks alternating": "a" + _repeat(marks, n - 1),
        "tibetan vowels": _repeat("\u0f73\u0f75", n),
        "zalgo": _repeat("a" + marks * 20 + " ", n),
    }


HOSTILE_GOLDS: dict[str, list[tuple[tuple[str, ...], tuple[str, ...] | None]]] = {
    "multiple_choice": [(("B",), ("cat", "dog", "bird")), (("a",), None)],
    "mmt_gui": [(("B",), ("cat", "dog", "bird"))],
    "mathvista": [(("12",), None), (("3.5",), None), (("dog",), ("cat", "dog")), (("x",), None)],
    "detection_f1": [(("[1, 2, 3, 4]",), None), (("[1, 2, 3, 4] [5, 6, 7, 8]",), None)],
    "anls": [(("invoice 12",), None)],
}
DEFAULT_GOLDS = [(("red, blue and 2 cats",), None)]


def test_every_scorer_is_linear_on_hostile_predictions() -> None:
    predictions = hostile_predictions(HOSTILE_N)
    assert all(len(p) >= HOSTILE_N - 1 for p in predictions.values())
    started = time.perf_counter()
    score("exact_match", "x" + "\u0301\u0316" * 20, ["x"])  # NFKC's first use, untimed below
    print(
        f"\nfirst NFKC (builds the table of combining marks): {time.perf_counter() - started:.2f} s"
    )
    print(f"{len(predictions)} hostile predictions of {HOSTILE_N:,} characters:")
    slow: list[str] = []
    for name in scoring.scorer_names():
        times: dict[str, float] = {}
        for kind, prediction in predictions.items():
            for golds, choices in HOSTILE_GOLDS.get(name, DEFAULT_GOLDS):
                clear_caches()
                start = time.perf_counter()
                result = score(name, prediction, golds, choices)
                elapsed = time.perf_counter() - start
                times[kind] = max(times.get(kind, 0.0), elapsed)
                assert 0.0 <= result.value <= 1.0
                if elapsed > HOSTILE_BOUND_S:
                    slow.append(f"{name} on {kind}: {elapsed:.1f} s")
        worst = max(times, key=times.__getitem__)
        print(
            f"{name:<24} worst {times[worst] * 1000:6.0f} ms ({worst}); spaces "
            f"{times['spaces'] * 1000:4.0f} ms, marks {times['marks descending'] * 1000:4.0f} ms, "
            f"median {sorted(times.values())[len(times) // 2] * 1000:4.0f} ms"
        )
    assert not slow, f"over {HOSTILE_BOUND_S} s: " + "; ".join(slow)
