"""Text-match scorers: VQA accuracy, exact match, ANLS, relaxed accuracy, token F1."""

from __future__ import annotations

import math
import re
from collections import Counter

from benchmark.scoring.registry import Score, _nfkc, _result, register

# --------------------------------------------------------------------------- VQA normaliser
# The official VQA evaluation (vqaEval.py) normalises answers with these facts:
# - punctuation ; / [ ] " { } ( ) = + \ _ - > < @ ` , ? ! is deleted when it touches a space
#   in the original text or when the text holds a digit-comma-digit ("1,000"), else it
#   becomes a space; the check looks at the original text, the replacement at the output;
# - a period not followed by a digit is deleted ("3.5" keeps its point). The official call
#   passes re.UNICODE as the *count* argument of sub(), so at most 32 periods go; kept;
# - then lowercase, split on whitespace, number words zero..ten (and "none") to digits,
#   articles a/an/the dropped, the contraction table below, words joined by one space.
# The official script only normalises when the annotators disagree; we always normalise
# (as every later VQA/TextVQA evaluator does), so one gold answer means normalised exact match.

_VQA_PUNCT = (";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<",
              "@", "`", ",", "?", "!")  # fmt: skip
_VQA_HAS_PUNCT = re.compile(r'[;/\[\]"{}()=+\\_\-><@`,?!.]')
_DIGIT_COMMA_DIGIT = re.compile(r"\d,\d")
_VQA_PERIOD = re.compile(r"\.(?!\d)")
_VQA_PERIOD_LIMIT = 32

_NUMBER_WORDS = {
    "none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
    "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10",
}  # fmt: skip
_ARTICLES = ("a", "an", "the")

# Contractions written without their apostrophe(s) -> the standard spelling. Written for
# this project from the list of forms the VQA evaluator knows; it is applied to lowercased
# words, so (as in the official evaluator, whose "Im", "Ive", "Id've" keys can never
# match) there are no entries for "im", "ive" or "id've".
_CONTRACTIONS = {
    "aint": "ain't", "arent": "aren't", "cant": "can't", "couldve": "could've",
    "couldnt": "couldn't", "couldn'tve": "couldn't've", "couldnt've": "couldn't've",
    "didnt": "didn't", "doesnt": "doesn't", "dont": "don't", "hadnt": "hadn't",
    "hadnt've": "hadn't've", "hadn'tve": "hadn't've", "hasnt": "hasn't", "havent": "haven't",
    "hed": "he'd", "hed've": "he'd've", "he'dve": "he'd've", "hes": "he's", "howd": "how'd",
    "howll": "how'll", "hows": "how's", "isnt": "isn't", "itd": "it'd", "itd've": "it'd've",
    "it'dve": "it'd've", "itll": "it'll", "let's": "let's", "maam": "ma'am",
    "mightnt": "mightn't", "mightnt've": "mightn't've", "mightn'tve": "mightn't've",
    "mightve": "might've", "mustnt": "mustn't", "mustve": "must've", "neednt": "needn't",
    "notve": "not've", "oclock": "o'clock", "oughtnt": "oughtn't", "ow's'at": "'ow's'at",
    "'ows'at": "'ow's'at", "'ow'sat": "'ow's'at", "shant": "shan't", "shed've": "she'd've",
    "she'dve": "she'd've", "she's": "she's", "shouldve": "should've", "shouldnt": "shouldn't",
    "shouldnt've": "shouldn't've", "shouldn'tve": "shouldn't've", "somebodyd": "somebody'd",
    "somebodyd've": "somebody'd've", "somebody'dve": "somebody'd've",
    "somebodyll": "somebody'll", "somebodys": "somebody's", "someoned": "someone'd",
    "someoned've": "someone'd've", "someone'dve": "someone'd've", "someonell": "someone'll",
    "someones": "someone's", "somethingd": "something'd", "somethingd've": "something'd've",
    "something'dve": "something'd've", "somethingll": "something'll", "thats": "that's",
    "thered": "there'd", "thered've": "there'd've", "there'dve": "there'd've",
    "therere": "there're", "theres": "there's", "theyd": "they'd", "theyd've": "they'd've",
    "they'dve": "they'd've", "theyll": "they'll", "theyre": "they're", "theyve": "they've",
    "twas": "'twas", "wasnt": "wasn't", "wed've": "we'd've", "we'dve": "we'd've",
    "weve": "we've", "werent": "weren't", "whatll": "what'll", "whatre": "what're",
    "whats": "what's", "whatve": "what've", "whens": "when's", "whered": "where'd",
    "wheres": "where's", "whereve": "where've", "whod": "who'd", "whod've": "who'd've",
    "who'dve": "who'd've", "wholl": "who'll", "whos": "who's", "whove": "who've",
    "whyll": "why'll", "whyre": "why're", "whys": "why's", "wont": "won't",
    "wouldve": "would've", "wouldnt": "wouldn't", "wouldnt've": "wouldn't've",
    "wouldn'tve": "wouldn't've", "yall": "y'all", "yall'll": "y'all'll", "y'allll": "y'all'll",
    "yall'd've": "y'all'd've", "y'alld've": "y'all'd've", "y'all'dve": "y'all'd've",
    "youd": "you'd", "youd've": "you'd've", "you'dve": "you'd've", "youll": "you'll",
    "youre": "you're", "youve": "you've",
}  # fmt: skip

# One lookup per word: number words, contractions, and articles (mapped to "" and dropped).
_VQA_WORDS: dict[str, str] = {**_CONTRACTIONS, **_NUMBER_WORDS, **dict.fromkeys(_ARTICLES, "")}


def _vqa_punctuation(text: str) -> str:
    delete_all = _DIGIT_COMMA_DIGIT.search(text) is not None
    out = text
    for mark in _VQA_PUNCT:
        if mark not in text:
            continue
        if delete_all or (mark + " ") in text or (" " + mark) in text:
            out = out.replace(mark, "")
        else:
            out = out.replace(mark, " ")
    return _VQA_PERIOD.sub("", out, count=_VQA_PERIOD_LIMIT)


_VQA_CACHE: dict[str, str] = {}
_VQA_CACHE_LIMIT = 1 << 18  # entries; the cache is emptied when full (results never change)


def _vqa_normalize(text: str) -> str:
    key = text
    text = _nfkc(text)
    text = text.replace("\n", " ").replace("\t", " ").strip()
    if _VQA_HAS_PUNCT.search(text) is not None:
        text = _vqa_punctuation(text)
    get = _VQA_WORDS.get
    out = " ".join([w for word in text.lower().split() if (w := get(word, word))])
    if len(_VQA_CACHE) >= _VQA_CACHE_LIMIT:
        _VQA_CACHE.clear()
    _VQA_CACHE[key] = out
    return out


def vqa_normalize(text: str) -> str:
    """The VQA evaluator's answer normalisation (see the notes above), after NFKC."""
    out = _VQA_CACHE.get(text)
    return _vqa_normalize(text) if out is None else out


def _vqa_golds(golds: tuple[str, ...]) -> list[str]:
    # A plain dict lookup per gold (C-level map) is the hot path of VQA scoring.
    norms = list(map(_VQA_CACHE.get, golds))
    if None in norms:
        norms = [vqa_normalize(g) for g in golds]
    return norms  # type: ignore[return-value]


@register("vqa_accuracy", nfkc_answers=False)
def vqa_accuracy(pred: str, golds: tuple[str, ...], choices: tuple[str, ...] | None) -> Score:
    """VQA accuracy: leave-one-out over the annotators, after the VQA normalisation.

    For each of the n gold answers, acc_i = min(1, (matches among the other n-1) / 3); the
    value is the mean of acc_i. With m of n golds equal to the prediction, the m matching
    annotators see m-1 matches and the others see m. With one gold answer the value is
    normalised exact match (the formula would always give 0 there). As in the official
    evaluator, no "the answer is"/"answer:" wrapper is stripped from the prediction; the
    normaliser is always applied (official: only when the annotators disagree).
    """
    parsed = _VQA_CACHE.get(pred)
    if parsed is None:
        parsed = _vqa_normalize(pred)
    norm = _vqa_golds(golds)
    n = len(norm)
    m = norm.count(parsed)
    if m == 0 or n == 1:
        return _result(float(m), parsed, True)
    if m > 3:
        return _result(1.0, parsed, True)
    # Sum over annotators of min(3, matches among the others), in thirds: the m matching
    # annotators see m-1 matches, the n-m others see m. 3 of 10: (3*2 + 7*3)/30 = 0.9.
    return _result((m * (m - 1) + (n - m) * m) / (3 * n), parsed, True)


@register("exact_match", nfkc_answers=False)
def exact_match(pred: str, golds: tuple[str, ...], choices: tuple[str, ...] | None) -> Score:
    """Exact match after the VQA normalisation (see ``vqa_normalize``), against any gold."""
    parsed = vqa_normalize(pred)
    return _result(1.0 if parsed in _vqa_golds(golds) else 0.0, parsed, True)


# --------------------------------------------------------------------------- ANLS


def levenshtein(a: str, b: str, limit: int | None = None) -> int:
    """Edit distance (insertions, deletions, substitutions of one character each).

    The textbook dynamic programme D[i][j] = min(D[i-1][j] + 1, D[i][j-1] + 1,
    D[i-1][j-1] + (a[i] != b[j])), computed one column at a time with the column held as
    bit vectors of its +1/-1 vertical steps (Hyyrö's bit-parallel form of the same
    recurrence): one pass over the shorter string, a few integer operations per character.
    The common prefix and suffix are trimmed first. With ``limit``, stops once the distance
    must exceed it and returns ``limit + 1`` (any value above ``limit`` means "too far").
    """
    if a == b:
        return 0
    start = 0
    stop = min(len(a), len(b))
    while start < stop and a[start] == b[start]:
        start += 1
    end_a, end_b = len(a), len(b)
    while end_a > start and end_b > start and a[end_a - 1] == b[end_b - 1]:
        end_a -= 1
        end_b -= 1
    a, b = a[start:end_a], b[start:end_b]
    if len(a) < len(b):
        a, b = b, a  # a: the longer string, one bit per character; b: the one walked
    if limit is not None and len(a) - len(b) > limit:
        return limit + 1
    if not b:
        return len(a)
    m = len(a)
    full = (1 << m) - 1
    top = 1 << (m - 1)
    positions: dict[str, int] = {}  # character -> bit mask of its positions in a
    for i, char in enumerate(a):
        positions[char] = positions.get(char, 0) | (1 << i)
    plus, minus = full, 0  # vertical steps of the current column: +1 / -1 (else 0)
    distance = m  # D[m][0]
    remaining = len(b)
    for char in b:
        eq = positions.get(char, 0)
        x_v = eq | minus
        x_h = (((eq & plus) + plus) ^ plus) | eq
        h_plus = minus | (~(x_h | plus) & full)
        h_minus = plus & x_h
        if h_plus & top:
            distance += 1
        elif h_minus & top:
            distance -= 1
        h_plus = ((h_plus << 1) | 1) & full  # row 0 grows by one per column: D[0][j] = j
        h_minus = (h_minus << 1) & full
        plus = h_minus | (~(x_v | h_plus) & full)
        minus = h_plus & x_v
        remaining -= 1
        if limit is not None and distance - remaining > limit:
            return limit + 1
    return distance


ANLS_THRESHOLD = 0.5


def _anls_text(text: str) -> str:
    return " ".join(text.lower().split())


@register("anls")
def anls(pred: str, golds: tuple[str, ...], choices: tuple[str, ...] | None) -> Score:
    """ANLS (DocVQA): max over golds of 1 - normalised Levenshtein distance, 0 below 0.5.

    The distance is between both strings lowercased, stripped and with their inner
    whitespace runs collapsed to one space; as in the reference (lmms-eval's DocVQA ``anls``)
    it is divided by the longer of the *raw* strings' lengths, ``len(x.upper())``, so repeated
    spaces or newlines make a distance count for less. (The prediction is the shared,
    stripped one: its surrounding whitespace is not counted.) A similarity of exactly 0.5
    is kept (values *below* the threshold become 0).
    """
    p = _anls_text(pred)
    p_len = len(pred.upper())
    best = 0.0
    for gold in golds:
        g = _anls_text(gold)
        longest = max(p_len, len(gold.upper()))
        if longest == 0:
            best = 1.0
            break
        # Only distances that beat the best so far and reach the threshold matter.
        limit = math.floor(longest * (1.0 - max(best, ANLS_THRESHOLD)) + 1e-9)
        distance = levenshtein(p, g, limit)
        if distance <= limit:
            similarity = 1.0 - distance / longest
            if similarity > best:
                best = similarity
    return Score(best if best >= ANLS_THRESHOLD else 0.0, p, True)


# --------------------------------------------------------------------------- relaxed accuracy

RELAXED_TOLERANCE = 0.05
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_THOUSANDS_NUMBER = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?")


def _relaxed_number(text: str) -> float | None:
    t = text.strip()
    percent = t.endswith("%")
    if percent:
        t = t[:-1].rstrip()
    if _THOUSANDS_NUMBER.fullmatch(t):
        t = t.replace(",", "")
    elif not _PLAIN_NUMBER.fullmatch(t):
        return None
    value = float(t)
    if not math.isfinite(value):
        return None
    return value / 100.0 if percent else value


@register("relaxed_accuracy")
def relaxed_accuracy(pred: str, golds: tuple[str, ...], choices: tuple[str, ...] | None) -> Score:
    """ChartQA relaxed accuracy: numbers within 5% relative error, else exact match.

    A string is a number when it is one whole (an optional sign, digits, an optional
    decimal part or exponent; thousands commas as in "1,234,567" are removed; a trailing
    "%" divides by 100, as in the reference implementation, so "45%" is 0.45 and does not
    match a gold "45"). When both are numbers and the gold is not 0:
    |pred - gold| / |gold| <= 0.05. Otherwise (either not a number, or gold 0): lowercased,
    stripped string equality. Units or words around a number make it a string. Max over golds.
    """
    p_num = _relaxed_number(pred)
    p_text = pred.lower()
    best = 0.0
    for gold in golds:
        g_num = _relaxed_number(gold)
        if p_num is not None and g_num:  # a gold of 0 falls back to string equality
            hit = abs(p_num - g_num) / abs(g_num) <= RELAXED_TOLERANCE
        else:
            hit = p_text == gold.strip().lower()
        if hit:
            best = 1.0
            break
    parsed = p_text if p_num is None else repr(p_num)
    return Score(best, parsed, True)


# --------------------------------------------------------------------------- token F1

_ASCII_PUNCT = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
_SQUAD_DROP_PUNCT = str.maketrans("", "", _ASCII_PUNCT)
_SQUAD_ARTICLES = re.compile(r"\b(?:a|an|the)\b")


def squad_tokens(text: str) -> list[str]:
    """SQuAD's normalisation: lowercase, drop ASCII punctuation and articles, split."""
    return _SQUAD_ARTICLES.sub(" ", text.lower().translate(_SQUAD_DROP_PUNCT)).split()


def _token_f1(pred_tokens: list[str], gold_tokens: list[str]) -> float:
    if not pred_tokens or not gold_tokens:
        return 1.0 if pred_tokens == gold_tokens else 0.0
    same = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if same == 0:
        return 0.0
    precision = same / len(pred_tokens)
    recall = same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


@register("token_f1")
def token_f1(pred: str, golds: tuple[str, ...], choices: tuple[str, ...] | None) -> Score:
    """SQuAD-style token F1 (bag of words, SQuAD normalisation), max over golds.

    One of the MSVQA "F1" candidates: the paper's F1 is undefined in what could be read,
    so this scorer is a candidate and unverified.
    """
    tokens = squad_tokens(pred)
    best = max(_token_f1(tokens, squad_tokens(g)) for g in golds)
    return Score(best, " ".join(tokens), True)
