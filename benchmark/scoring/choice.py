"""Reading the chosen option of a multiple-choice answer."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from benchmark.scoring.registry import (
    _EMPTY_CHOICE,
    _EMPTY_JUDGED,
    LETTERS,
    Score,
    _result,
    register,
)

# --------------------------------------------------------------------------- options
# How an option letter is read from free text: see the docstring of ``multiple_choice``.

_DECOR = " \t\r\n*_\"'`“”‘’()[]{}<>.:,;!"
_ANSWER_HEAD = re.compile(
    r"(?:\b(?i:answers?|(?:correct|right|best|final)\s+(?:option|choice))\b"
    r"(?i:\s+(?:is|would\s+be|should\s+be|will\s+be|must\s+be))?"
    r"|\b(?i:option|choice)(?=[*_]*\s*[:=])"  # "Option: B" (not "Options: A. cat B. dog")
    r"|答案\s*(?:是|为|為)?"  # "答案是B", "答案：B" (NFKC turns "：" into ":")
    r")"
    r"[*_]*\s*[:=\-–]?[*_]*\s*"  # "**Answer:** B", "**Answer**: B"
    r"(?i:(?:option|choice)\b\s*)?"
)
# Weaker statements: the letter must end the phrase ("It is B.", "So, B", "I think B").
_WEAK_HEAD = re.compile(
    r"(?i:\b(?:it|this|that)\s*(?:\s(?:is|would\s+be|must\s+be|should\s+be)|['’]s)"
    r"|\b(?:therefore|thus|hence|so)\b"
    r"|\bI\s*(?:\s(?:think|believe|choose|select|pick|(?:would|will)\s+(?:choose|select|pick|go\s+with|say))"
    r"|['’](?:d|ll)\s+(?:choose|select|pick|go\s+with|say)))"
    r"\s*[,:\-–]?\s*(?i:(?:option|choice)\b\s*)?"
)
# "B is correct.", "B is the answer", "(B) is the correct option": a letter opening a
# sentence or line, then a statement that it is the answer (never "B is not correct").
_LETTER_FIRST = re.compile(
    r"(?:^|(?<=[.!?:;\n]))[ \t*_\"'`>#]*([(\[]?)([A-Za-z])([)\]]?)[*_\"'`”’]*\s+"
    r"(?i:is|would\s+be|should\s+be|must\s+be|seems\s+to\s+be)\s+(?i:the\s+)?"
    r"(?i:(?:only\s+)?(?:correct|right|best|true|final)\b(?:\s+(?:answer|option|choice)\b)?"
    r"|answer\b)",
    re.MULTILINE,
)
_LETTER_AT = re.compile(r"[*\"'`“‘]*([(\[]?)([A-Za-z])([)\]]?)(?![A-Za-z0-9'’\-])")
_LETTER_SEP = re.compile(r"(?:\s*(?:,|/|&|\bor\b|\band\b))+\s*", re.IGNORECASE)
_NEXT_WORD = re.compile(r"[*\"'`”’]*\s+([a-z]+)")
_LETTER_FOLLOWERS = frozenset(
    {"is", "was", "because", "since", "as", "or", "and", "would", "should", "seems"}
)
# What may follow a letter read after a weak statement: the end, punctuation, or a word
# that keeps it a letter ("So, B is right", "I think B because …").
_STRICT_END = re.compile(
    r"[*_\"'`”’]*(?:\s*(?:$|[.,;:!?)\]\n])"
    r"|\s+(?i:is|was|because|since|as|or|and|would|should|seems)\b)"
)
# A letter said not to be the answer: "B is not correct", "B isn't right", "B is wrong".
_NEGATED = re.compile(
    r"[*_\"'`”’)\]]*\s+(?i:(?:is|was|would\s+be|seems)\s+(?:not|never|wrong|incorrect|false)\b"
    r"|(?:isn|wasn)['’]?t\b)"
)
_MARKERS = re.compile(
    r"(?<![A-Za-z0-9])[(\[]([A-Za-z])[)\]]"
    r"|(?<![A-Za-z0-9(\[])([A-Z])\)"
    r"|(?m:^)[ \t*#>\-]*([A-Z])[.:](?=\s|$)"
    r"|\b(?i:option|choice)\s+([A-Z])(?![A-Za-z0-9])"
)


def _prose_letter(text: str, end: int, letter: str) -> bool:
    """True when an uppercase A/I at ``text[:end]`` reads as an article or pronoun."""
    if letter not in "AI":
        return False
    following = _NEXT_WORD.match(text, end)
    return following is not None and following.group(1) not in _LETTER_FOLLOWERS


def _letters_at(text: str, pos: int, *, strict: bool) -> list[str]:
    """The letter (or list of letters, "A or B") that starts at ``pos``; [] if none."""
    found: list[str] = []
    while True:
        m = _LETTER_AT.match(text, pos)
        if m is None:
            break
        opened, letter, closed = m.groups()
        bracketed = bool(opened and closed)
        if not bracketed:
            if opened or closed:  # "(B" or "B)": a marker only when closed
                if not closed:
                    break
            elif letter.islower():
                if letter in "ai":
                    break
            elif _prose_letter(text, m.end(), letter):
                break
            if strict and not _STRICT_END.match(text, m.end()):
                break
        if _NEGATED.match(text, m.end()):
            break
        found.append(letter.upper())
        sep = _LETTER_SEP.match(text, m.end())
        if sep is None:
            break
        pos = sep.end()
    return found


def _answer_letters(text: str) -> list[str]:
    found: list[str] = []
    for head in _ANSWER_HEAD.finditer(text):
        found += _letters_at(text, head.end(), strict=False)
    for head in _WEAK_HEAD.finditer(text):
        found += _letters_at(text, head.end(), strict=True)
    for m in _LETTER_FIRST.finditer(text):
        opened, letter, closed = m.groups()
        if bool(opened) != bool(closed) or letter in "ai":
            continue
        found.append(letter.upper())
    return found


def _marker_letters(text: str) -> list[str]:
    return [next(g for g in m.groups() if g).upper() for m in _MARKERS.finditer(text)]


def _option_key(text: str) -> str:
    return " ".join(text.casefold().split()).strip(" .,;:!?\"'")


def _contains_phrase(haystack: str, needle: str) -> bool:
    start = haystack.find(needle)
    while start != -1:
        end = start + len(needle)
        before_ok = start == 0 or not (needle[0].isalnum() and haystack[start - 1].isalnum())
        after_ok = end == len(haystack) or not (needle[-1].isalnum() and haystack[end].isalnum())
        if before_ok and after_ok:
            return True
        start = haystack.find(needle, start + 1)
    return False


def _option_by_text(text: str, choices: tuple[str, ...]) -> str | None:
    key = _option_key(text)
    keys = [_option_key(c) for c in choices[: len(LETTERS)]]
    equal = [i for i, k in enumerate(keys) if k and k == key]
    if equal:
        return LETTERS[equal[0]] if len(equal) == 1 else None
    inside = [i for i, k in enumerate(keys) if k and _contains_phrase(key, k)]
    inside = [i for i in inside if not any(j != i and keys[i] in keys[j] for j in inside)]
    return LETTERS[inside[0]] if len(inside) == 1 else None


def _decide(letters: Iterable[str], valid: str) -> tuple[bool, str | None]:
    """(decided, letter): decided when any valid letter was seen; letter None if several."""
    distinct = {x for x in letters if x in valid}
    if not distinct:
        return False, None
    return True, (distinct.pop() if len(distinct) == 1 else None)


@functools.lru_cache(maxsize=1 << 16)
def _choose(text: str, choices: tuple[str, ...] | None) -> str | None:
    valid = LETTERS[: len(choices)] if choices else LETTERS
    bare = text.strip(_DECOR)
    if len(bare) == 1 and bare.isascii() and bare.isalpha() and bare.upper() in valid:
        return bare.upper()
    for tier in (_answer_letters, _marker_letters):
        decided, letter = _decide(tier(text), valid)
        if decided:
            return letter
    return _option_by_text(text, choices) if choices else None


# --------------------------------------------------------------------------- the reference
# VLMEvalKit's ``can_infer`` (as copied into MMT-Bench and MLLM-CL's ``eval_math.py``): the
# rule-based reading before its LLM judge is asked. We use it only to tell when that judge
# would have been asked (``judge_needed``) and, for MathVista, as the reading itself.

_REFUSALS = (
    "Sorry, I can't help with images of people yet.",
    "I can't process this file.",
    "I'm sorry, but without the image provided",
    "Cannot determine the answer",
)
_CAN_INFER_SPLIT = str.maketrans(dict.fromkeys(".()[],:;!*#{}", " "))


@functools.lru_cache(maxsize=1 << 16)
def can_infer(text: str, choices: tuple[str, ...] | None) -> str | None:
    """The reference's rule-based reading: an option letter, "Z" (a refusal), or None when
    its rules cannot decide and it would ask its LLM judge.

    1. a refusal string ("Cannot determine the answer", …) anywhere -> "Z";
    2. ``.()[],:;!*#{}`` become spaces, the text is split on whitespace: exactly one option
       letter among the tokens -> that letter; none, but a token "Z" -> "Z";
    3. else exactly one option text (lowercased) contained in the lowercased text -> it.
    Without ``choices`` every letter A-Z is an option and there is no option text.
    """
    if any(refusal in text for refusal in _REFUSALS):
        return "Z"
    keys = LETTERS[: len(choices)] if choices else LETTERS
    tokens = set(text.translate(_CAN_INFER_SPLIT).split())
    letters = [x for x in keys if x in tokens]
    if len(letters) == 1:
        return letters[0]
    if not letters and "Z" in tokens:
        return "Z"
    if not choices:
        return None
    lowered = text.lower()
    hits = [LETTERS[i] for i, c in enumerate(choices[: len(LETTERS)]) if c.lower() in lowered]
    return hits[0] if len(hits) == 1 else None


_GOLD_LETTER = re.compile(r"\(?([A-Za-z])\)?\.?")


@functools.lru_cache(maxsize=1 << 14)
def _gold_letter(gold: str, choices: tuple[str, ...] | None, *, text_first: bool) -> str:
    """The gold option's letter, from a letter ("B", "(b)") or an option's text."""
    valid = LETTERS[: len(choices)] if choices else LETTERS

    def by_letter() -> str | None:
        m = _GOLD_LETTER.fullmatch(gold.strip())
        return m.group(1).upper() if m and m.group(1).upper() in valid else None

    def by_text() -> str | None:
        if not choices:
            return None
        key = _option_key(gold)
        hits = [i for i, c in enumerate(choices[: len(LETTERS)]) if _option_key(c) == key]
        return LETTERS[hits[0]] if len(hits) == 1 else None

    order = (by_text, by_letter) if text_first else (by_letter, by_text)
    for find in order:
        letter = find()
        if letter is not None:
            return letter
    raise ValueError(
        f"gold answer {gold!r} is neither an option letter ({valid[0]}-{valid[-1]}) "
        f"nor the text of exactly one option"
    )


def _letter_scorer(pred: str, golds: tuple[str, ...], choices: tuple[str, ...] | None) -> Score:
    target = _gold_letter(golds[0], choices, text_first=False)
    letter = _choose(pred, choices)
    judge = can_infer(pred, choices) is None
    if letter is None:
        return _EMPTY_JUDGED if judge else _EMPTY_CHOICE
    return _result(1.0 if letter == target else 0.0, letter, True, judge)


@register("multiple_choice", empty="choice")
def multiple_choice(pred: str, golds: tuple[str, ...], choices: tuple[str, ...] | None) -> Score:
    """Option letter read from free text against the gold option.

    ``choices`` are the option texts in order (letters A, B, …); the gold ``answers[0]`` is
    a letter ("B", "(b)") or, failing that, the text of exactly one option (compared
    casefolded); a gold that is neither raises ``ValueError`` (a data error, not a
    prediction error). Without ``choices`` (None or empty) every letter A-Z is valid and
    there is no option text to match. An answer naming several different options, or
    none, is a parse failure (0); ``parsed`` is the letter read.

    How an option letter is read from free text (multiple_choice and mmt_gui). Tiers are
    tried in order; the first tier that yields any valid letter decides: exactly one distinct
    letter -> that option, several -> unparsable (never a guess). Letters beyond the number
    of choices are ignored everywhere.
      1. the whole answer is one letter, in any case, possibly decorated: "B", "b", "(B)",
         "B.", "**B**", "[B]".
      2. answer statements, all read together:
         - "answer is B", "Answer: B", "**Answer:** B", "**Answer**: B", "The correct answer
           would be (B)", "The correct option is B", "answer: option B", "Option: B",
           "答案是B";
         - weaker ones, where the letter must end the phrase (then only punctuation, the end,
           or one of the words listed below may follow): "It is B.", "It's B", "This is B",
           "Therefore, B.", "So, B.", "Thus B", "I think B", "I believe B", "I choose / select
           / pick B", "I'd pick B", "I would go with B";
         - a letter opening a sentence or line, stated to be the answer: "B is correct.",
           "B is the answer", "(B) is the correct option", "B is the right choice".
         A list such as "A or B", "B, C", "I think B or C" yields every letter (so it is
         unparsable). Outside brackets an uppercase letter counts, and a lowercase one other
         than "a"/"i" (words, not letters, in prose). A letter said not to be the answer
         ("B is not correct", "B isn't right", "B is wrong") is not read; nor is one after
         "not" ("The answer is not B", "It is not B").
      3. option markers anywhere: "(B)"/"[B]" (any case, not glued to a preceding word, so
         "cat(s)" is no marker), "B)" (uppercase, not after a letter or digit), "B." / "B:" at
         the start of a line followed by a space or the end, "option B" / "choice B".
      4. option text: the answer equals one option's text (casefolded, whitespace collapsed,
         surrounding punctuation ignored), else exactly one option's text occurs in it as a
         whole phrase (not inside a longer word), texts contained in another matching option's
         text ("cat" in "black cat") set aside.
    The article rule: a single uppercase "A" (or "I") that begins a phrase ("A cat is …",
    "The answer is A cat", "I think …") is prose: it is read as a letter only when it stands
    alone (tier 1), is bracketed, is followed by "." ")" ":" (tiers 2-3), or is followed by
    one of: is, was, because, since, as, or, and, would, should, seems ("A is correct",
    "The answer is A because …"). So "A dog is sitting" with options (cat, dog) is option B,
    and "It is A dog" / "I think A cat is there" read no letter.

    ``judge_needed`` is True when the reference's reading (``can_infer``: MMBench-style
    evaluation in VLMEvalKit, MMT-Bench's own copy of it) cannot decide, i.e. when the
    reference would have asked its LLM judge; our reading above is then what decides.
    """
    return _letter_scorer(pred, golds, choices)
