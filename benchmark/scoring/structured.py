"""Scorers of structured answers: sets of names and bounding boxes."""

from __future__ import annotations

import math
import re

from benchmark.scoring.registry import Score, register
from benchmark.scoring.text import vqa_normalize

# --------------------------------------------------------------------------- set F1

# Only the separators: the whitespace around them goes in vqa_normalize. (Matching it here,
# as r"\s*(?:…)\s*", retried every start inside a run of spaces: quadratic time.)
_SET_SPLIT = re.compile(r"[,;\n&]|\band\b", re.IGNORECASE)


def _name_set(text: str) -> frozenset[str]:
    return frozenset(x for part in _SET_SPLIT.split(text) if (x := vqa_normalize(part)))


def _f1_counts(matched: int, n_pred: int, n_gold: int) -> float:
    if n_pred == 0 and n_gold == 0:
        return 1.0
    return 2.0 * matched / (n_pred + n_gold)


@register("set_f1", empty="own")
def set_f1(pred: str, golds: tuple[str, ...], choices: tuple[str, ...] | None) -> Score:
    """F1 between the sets of object names in the prediction and in the gold.

    Both sides are split on commas, semicolons, newlines, "&" and the word "and"; each
    item gets the VQA normalisation (so articles go and number words become digits; no
    plural folding); empty items are dropped. The gold set is the union over all gold
    answers (one string with several names, or one name per answer). Both sets empty -> 1.
    One of the MSVQA "F1" candidates: a candidate, unverified.
    """
    p = _name_set(pred)
    g = frozenset().union(*map(_name_set, golds))
    parsed = ", ".join(sorted(p))
    return Score(_f1_counts(len(p & g), len(p), len(g)), parsed, True)


# --------------------------------------------------------------------------- detection F1

IOU_THRESHOLD = 0.5
_NUM = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_BOX = re.compile(rf"\[\s*({_NUM})\s*,\s*({_NUM})\s*,\s*({_NUM})\s*,\s*({_NUM})\s*\]")
Box = tuple[float, float, float, float]


def parse_boxes(text: str) -> list[Box]:
    """Every ``[x1, y1, x2, y2]`` list of four numbers in ``text``, corners put in order.

    Nested lists (``[[…], […]]``, a JSON list of boxes) yield their inner boxes; boxes with
    a non-finite number are skipped.
    """
    boxes: list[Box] = []
    for match in _BOX.finditer(text):
        x1, y1, x2, y2 = map(float, match.groups())
        if all(map(math.isfinite, (x1, y1, x2, y2))):
            boxes.append((min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)))
    return boxes


def _iou(a: Box, b: Box) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = w * h if w > 0 and h > 0 else 0.0
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    if union <= 0:
        return 1.0 if a == b else 0.0
    return inter / union


def _greedy_matches(pred: list[Box], gold: list[Box]) -> int:
    pairs = []
    for i, p in enumerate(pred):
        for j, g in enumerate(gold):
            overlap = _iou(p, g)
            if overlap >= IOU_THRESHOLD:
                pairs.append((-overlap, i, j))
    pairs.sort()
    used_p: set[int] = set()
    used_g: set[int] = set()
    for _, i, j in pairs:
        if i not in used_p and j not in used_g:
            used_p.add(i)
            used_g.add(j)
    return len(used_p)


def _fmt_number(x: float) -> str:
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else repr(x)


def _fmt_boxes(boxes: list[Box]) -> str:
    return "[" + ", ".join("[" + ", ".join(map(_fmt_number, b)) + "]" for b in boxes) + "]"


@register("detection_f1", empty="own")
def detection_f1(pred: str, golds: tuple[str, ...], choices: tuple[str, ...] | None) -> Score:
    """Detection F1 at IoU >= 0.5 between the boxes in the prediction and in the gold.

    Boxes are ``[x1, y1, x2, y2]`` lists of numbers anywhere in the text (see
    ``parse_boxes``); the gold boxes are the union over all gold answers (one box per
    answer, or one string with several). Pairs with IoU >= 0.5 are matched one-to-one,
    greedily in descending IoU order (ties: prediction order, then gold order); the value
    is 2·matched / (#pred + #gold). Both empty -> 1; gold empty and boxes predicted -> 0.
    A prediction without any box where the gold has boxes is a parse failure (0).
    The MSVQA default "F1" candidate: a candidate, unverified.
    """
    gold_boxes = [box for gold in golds for box in parse_boxes(gold)]
    pred_boxes = parse_boxes(pred)
    if not pred_boxes and gold_boxes:
        return Score(0.0, "", False)
    matched = _greedy_matches(pred_boxes, gold_boxes)
    value = _f1_counts(matched, len(pred_boxes), len(gold_boxes))
    return Score(value, _fmt_boxes(pred_boxes), True)
