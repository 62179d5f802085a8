"""Caption metrics for a whole cell: BLEU-1..4, METEOR, ROUGE-L and CIDEr by the COCO caption
evaluation package (``pycocoevalcap``, the ``captions`` extra), not re-implemented.

Caption metrics are corpus metrics (CIDEr's document frequencies, BLEU's brevity penalty and
METEOR's statistics are pooled over the cell), so ``coco_caption`` records are scored per
cell by :func:`caption_cell`, never one at a time: it is a cell scorer (``CELL_SCORERS``),
not in the per-item registry, and :func:`benchmark.scoring.score` does not know it. The
steps are those of the UCIT authors' ``eval_caption.py`` with their ``eval.py``
(Ghy0501/HiDe-LLaVA@4dd0793: llava/eval/eval_caption.py and eval.py; the same in
Ghy0501/MCITlib@2956dfd: LoRA-FT/llava/eval/CoIN/eval_caption.py): the PTB tokenizer on
predictions and references, then ``Bleu(4)``, ``Meteor()``, ``Rouge()`` and ``Cider()``
(SPICE left out, as they do), each metric × 100, and their reported number, ``Average``:
the mean of the seven.

The cell's number (the accuracy matrix) is that ``Average``. The bootstrap needs per-item
values whose mean is the cell's number: ROUGE-L and CIDEr are means of per-item scores in
``pycocoevalcap``, BLEU and METEOR are not, so item *i* gets
``(B1 + B2 + B3 + B4 + METEOR + ROUGE_L[i] + CIDEr[i]) / 700`` with the corpus BLEU and
METEOR: the mean over items is exactly ``Average / 100``, and the interval reflects the
per-item spread of ROUGE-L and CIDEr only (a value can exceed 1 where an item's CIDEr does).
The seven metrics are kept per cell (``results.json``: ``cells[].metrics``).

The tokenizer and METEOR run a Java runtime (``java`` on the PATH).
"""

from __future__ import annotations

import contextlib
import io
import math
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from benchmark.scoring.registry import Score

CAPTION_SCORER = "coco_caption"
CELL_SCORERS = frozenset({CAPTION_SCORER})
"""Scorers that judge a whole cell (not in the per-item registry): records may name them."""
CAPTION_METRICS = ("Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr")
AVERAGE = "Average"
INSTALL_HINT = (
    "install the captions extra (pip install 'mllmcl-bench[captions]') and a Java runtime "
    "(Debian: apt-get install default-jre-headless)"
)


class CaptionMetricsUnavailable(RuntimeError):
    """pycocoevalcap or the Java runtime it needs is missing."""


@dataclass(frozen=True)
class CaptionCell:
    """The caption metrics of one cell: each × 100, ``Average`` included, and the per-item
    values whose mean is ``Average / 100`` (see the module docstring)."""

    metrics: dict[str, float]
    items: list[Score]

    @property
    def average(self) -> float:
        return self.metrics[AVERAGE]


def check_available() -> None:
    """CaptionMetricsUnavailable (one line, saying what to install) unless both are there."""
    try:
        import pycocoevalcap  # noqa: F401
    except ImportError:
        raise CaptionMetricsUnavailable(
            f"caption metrics need the COCO caption evaluation package: {INSTALL_HINT}"
        ) from None
    if shutil.which("java") is None:
        raise CaptionMetricsUnavailable(
            "caption metrics need a Java runtime (pycocoevalcap's tokenizer and METEOR are "
            f"Java programs) and no `java` is on the PATH: {INSTALL_HINT}"
        )


def caption_cell(predictions: Sequence[str], references: Sequence[Sequence[str]]) -> CaptionCell:
    """BLEU-1..4, METEOR, ROUGE-L, CIDEr and their average (× 100) over a cell's items."""
    return caption_cells([(predictions, references)])[0]


def caption_cells(
    cells: Sequence[tuple[Sequence[str], Sequence[Sequence[str]]]],
) -> list[CaptionCell]:
    """:func:`caption_cell` for many cells, each scored on its own, with one run of the Java
    tokenizer and one METEOR process for them all (starting Java is most of the time)."""
    for predictions, references in cells:
        if len(predictions) != len(references):
            raise ValueError(f"{len(predictions)} predictions for {len(references)} reference sets")
        if any(not refs for refs in references):
            raise ValueError("every item needs at least one reference caption")
    if not any(predictions for predictions, _ in cells):
        return [_empty() for _ in cells]
    check_available()
    from pycocoevalcap.meteor.meteor import Meteor
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    gts, res = {}, {}
    for c, (predictions, references) in enumerate(cells):
        for i, (prediction, refs) in enumerate(zip(predictions, references, strict=True)):
            gts[(c, i)] = [{"caption": str(r)} for r in refs]
            res[(c, i)] = [{"caption": str(prediction).strip()}]
    with contextlib.redirect_stdout(io.StringIO()):  # the scorers print their statistics
        tokenizer = PTBTokenizer()
        gts_tok, res_tok = tokenizer.tokenize(gts), tokenizer.tokenize(res)
        meteor = Meteor()
        try:
            out = []
            for c, (predictions, _) in enumerate(cells):
                keys = [(c, i) for i in range(len(predictions))]
                out.append(
                    _score_cell(
                        predictions,
                        {k[1]: gts_tok[k] for k in keys},
                        {k[1]: res_tok[k] for k in keys},
                        meteor,
                    )
                    if keys
                    else _empty()
                )
        finally:
            with contextlib.suppress(OSError):  # the Java process, now rather than at exit
                meteor.meteor_p.stdin.close()
                meteor.meteor_p.kill()
                meteor.meteor_p.wait()
    return out


def _empty() -> CaptionCell:
    return CaptionCell({**dict.fromkeys(CAPTION_METRICS, math.nan), AVERAGE: math.nan}, [])


def _score_cell(
    predictions: Sequence[str], gts: dict[int, list[str]], res: dict[int, list[str]], meteor: Any
) -> CaptionCell:
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    metrics: dict[str, float] = {}
    per_item: dict[str, list[float]] = {}
    scorers = [(Bleu(4), CAPTION_METRICS[:4]), (meteor, ("METEOR",))]
    scorers += [(Rouge(), ("ROUGE_L",)), (Cider(), ("CIDEr",))]
    for scorer, names in scorers:
        score, scores = scorer.compute_score(gts, res)
        if len(names) == 1:
            score, scores = [score], [scores]
        for name, value, values in zip(names, score, scores, strict=True):
            metrics[name] = 100.0 * float(value)
            per_item[name] = [float(v) for v in values]
    metrics[AVERAGE] = math.fsum(metrics[name] for name in CAPTION_METRICS) / len(CAPTION_METRICS)
    pooled = math.fsum(metrics[name] for name in CAPTION_METRICS[:5]) / 100.0
    items = [
        Score((pooled + rouge + cider) / len(CAPTION_METRICS), prediction.strip(), True)
        for prediction, rouge, cider in zip(
            predictions, per_item["ROUGE_L"], per_item["CIDEr"], strict=True
        )
    ]
    return CaptionCell(metrics, items)
