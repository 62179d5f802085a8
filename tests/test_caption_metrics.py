"""Caption cells scored by the COCO caption evaluation package (pycocoevalcap, Java inside):
the seven metrics and the authors' Average, per-item values whose mean is the cell's number,
a clear error without Java, and a tiny-model entry evaluated on UCIT end to end."""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

import pytest
from mirrors import ucit_mirror
from tinyworld import tiny_entry_on_mirror, write_submission

from benchmark.entry.results import load_results
from benchmark.errors import BenchmarkError
from benchmark.evaluation.run import evaluate_entry
from benchmark.scoring import KNOWN_SCORERS, SCORERS, UnknownScorerError, score
from benchmark.scoring.caption import (
    AVERAGE,
    CAPTION_METRICS,
    CaptionCell,
    CaptionMetricsUnavailable,
    caption_cell,
    caption_cells,
)

REFERENCES = [
    ["A dog runs on the grass.", "a brown dog running"],
    ["A man rides a bike."],
    ["Two cats."],
]
PREDICTIONS = ["a dog running on grass", "", "two cats\nsleeping"]
# pycocoevalcap 1.2 (the locked version) on the three items above, x100
PINNED = {
    "Bleu_1": 60.13781187917564,
    "Bleu_2": 45.459912748734255,
    "Bleu_3": 3.286842731456682e-04,
    "Bleu_4": 1.0510214674204937e-06,
    "METEOR": 26.552355223745694,
    "ROUGE_L": 53.32160203723971,
    "CIDEr": 198.5988643131791,
}


@pytest.fixture
def java() -> None:
    """The metrics need a Java runtime: CI installs one (make test), so never skip there."""
    if shutil.which("java") is None:
        if os.environ.get("CI"):
            pytest.fail("caption metrics need `java` (make test installs default-jre-headless)")
        pytest.skip("no Java runtime on this machine (apt-get install default-jre-headless)")


GOOD_BAD_REFS = [["a red bus on a street"], ["a cat sleeps on a sofa"], ["two boys play football"]]
GOOD = ["a red bus on a street", "a cat sleeps on a sofa", "two boys"]
BAD = ["a plate of food", "a tall tree", "a boat on a lake"]


@pytest.fixture(scope="module")
def cells() -> list[CaptionCell]:
    """Three cells scored in one call (one Java start), each on its own."""
    if shutil.which("java") is None:
        if os.environ.get("CI"):
            pytest.fail("caption metrics need `java` (make test installs default-jre-headless)")
        pytest.skip("no Java runtime on this machine (apt-get install default-jre-headless)")
    return caption_cells(
        [
            (PREDICTIONS, REFERENCES),
            (GOOD, GOOD_BAD_REFS),
            (BAD, GOOD_BAD_REFS),
            (GOOD[:1] + BAD, GOOD_BAD_REFS[:1] + GOOD_BAD_REFS),  # one exact copy, three wrong
        ]
    )


def test_metrics_are_pycocoevalcaps_and_the_average_is_their_mean(cells) -> None:
    cell = cells[0]
    assert list(cell.metrics) == [*CAPTION_METRICS, AVERAGE]
    for name, value in PINNED.items():
        assert cell.metrics[name] == pytest.approx(value, rel=1e-9, abs=1e-9), name
    assert cell.average == pytest.approx(sum(PINNED.values()) / 7)
    # the bootstrap's items: their mean is the cell's number, and the empty output scores least
    values = [item.value for item in cell.items]
    assert 100 * math.fsum(values) / len(values) == pytest.approx(cell.average, rel=1e-12)
    assert values[1] == min(values) and cell.items[2].parsed == "two cats\nsleeping"


def test_a_perfect_caption_outscores_a_wrong_one(cells) -> None:
    good, bad = cells[1], cells[2]
    assert good.metrics["Bleu_1"] > 70 and bad.metrics["Bleu_1"] < 20
    assert good.average > bad.average + 30
    assert good.items[0].value > good.items[2].value


def test_caption_cells_say_what_to_install_without_java(monkeypatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(CaptionMetricsUnavailable, match=r"need a Java runtime .*default-jre"):
        caption_cell(["a dog"], [["a dog"]])


def test_coco_caption_is_a_cell_scorer_not_an_item_scorer() -> None:
    assert "coco_caption" in KNOWN_SCORERS and "coco_caption" not in SCORERS
    with pytest.raises(UnknownScorerError):
        score("coco_caption", "a dog", ["a dog"])
    with pytest.raises(ValueError, match="at least one reference"):
        caption_cell(["a dog"], [[]])


def tiny_ucit_entry(
    world: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, list[str]]:
    """``ucit`` prepared from a test mirror, and a tiny-model entry on it (six steps from the
    world's three adapters); the entry folder and the task order."""
    entry, tasks = tiny_entry_on_mirror("ucit", ucit_mirror, world, tmp_path, monkeypatch)
    write_submission(entry, "ucit", tasks, name="tiny-ucit")
    return entry, tasks


@pytest.mark.slow
def test_tiny_model_entry_on_ucit_with_caption_metrics(
    java, home: Path, world: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry, tasks = tiny_ucit_entry(world, tmp_path, monkeypatch)
    outcome = evaluate_entry(
        entry, batch_size=3, cache_path=tmp_path / "c.sqlite", progress=False, n_boot=50
    )
    assert outcome.generated == 72  # the steps that see a task: base row, then the triangle
    results = load_results(entry / "results.json")
    assert results.tasks == tasks and len(results.matrix) == 7
    captions = [c for c in results.cells if c.task in ("vizwiz-caption", "flickr30k")]
    assert {(6, "vizwiz-caption"), (6, "flickr30k")} <= {(c.step, c.task) for c in captions}
    for cell in captions:
        assert set(cell.metrics) == {*CAPTION_METRICS, AVERAGE}
        assert results.matrix[cell.step][tasks.index(cell.task)] == pytest.approx(
            cell.metrics[AVERAGE], abs=1e-6
        )
    assert all(
        c.metrics is None for c in results.cells if c.task not in ("vizwiz-caption", "flickr30k")
    )
    assert results.metrics["last"].value is not None


def test_missing_java_stops_a_caption_run_before_any_generation(
    home: Path, world: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # hours of generation must not end at scoring for want of a Java runtime
    entry, _ = tiny_ucit_entry(world, tmp_path, monkeypatch)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(BenchmarkError, match="caption metrics need a Java runtime"):
        evaluate_entry(entry, cache_path=tmp_path / "c.sqlite", progress=False, n_boot=50)
    assert not (tmp_path / "c.sqlite").exists() and not (entry / "results.json").exists()


def test_caption_items_above_one_reach_the_bootstrap(cells) -> None:
    # an item's CIDEr can exceed 1, and so can its share of the cell's number; the bootstrap
    # takes such items (it refuses only negative scores and cell means above 1)
    from benchmark.metrics import bootstrap_metrics

    mixed = cells[3]
    values = [item.value for item in mixed.items]
    assert max(values) > 1 and mixed.average < 100
    result = bootstrap_metrics([[[0.0] * len(values), values]], n_boot=50)  # base, step 1
    assert result["last"].value == pytest.approx(mixed.average, rel=1e-12)
    low, high = result["last"].ci95
    assert low <= mixed.average <= high


def test_a_caption_cell_above_100_stops_scoring_naming_the_cell(cells) -> None:
    # two of three captions copy their single reference: CIDEr x 100 passes 100, and so does
    # the Average, which the matrix cannot hold
    from benchmark.evaluation.grid import _cell_scores

    good = cells[1]
    assert good.average > 100

    class OneCell:
        step, task = 2, "flickr30k"

    with pytest.raises(
        BenchmarkError, match=r"step 2 flickr30k: .*Average is 1\d\d\.\d, above 100"
    ):
        _cell_scores(OneCell(), good)  # type: ignore[arg-type]
