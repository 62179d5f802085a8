"""Preparing suites: offline, byte-reproducible, atomic, with a manifest of hashes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmark.errors import BenchmarkError, RecordError
from benchmark.paths import TASKS_ENV
from benchmark.scoring import SCORERS
from benchmark.suites.prepare import prepare_suite, read_manifest, records_path
from benchmark.suites.records import check_records_file, read_records
from benchmark.suites.registry import load_suite
from benchmark.suites.sources.shapes import ANSWER_SPACE

TOY = """\
id: toy
version: 1
title: Toy
changelog: [{version: 1, date: 2026-11-01, change: first}]
source: {module: shapes, options: {seed: 3, image_size: 32, sizes: {train: 4, test: 6}}}
orders: {default: [a, b]}
tasks:
  a: {name: A, scorer: exact_match, max_new_tokens: 4, splits: [train, test],
      options: {kind: colour}, prompt_suffix: One word.}
  b: {name: B, scorer: exact_match, max_new_tokens: 4, options: {kind: position}}
"""


@pytest.fixture
def toy(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    tasks = tmp_path / "suites"
    tasks.mkdir()
    (tasks / "toy.yaml").write_text(TOY)
    monkeypatch.setenv(TASKS_ENV, str(tasks))
    return load_suite("toy")


def test_shapes_prepared_offline_with_counts_and_manifest(shapes_home: Path) -> None:
    manifest = read_manifest("shapes", shapes_home)
    suite = load_suite("shapes")
    assert manifest["suite_version"] == suite.version
    assert manifest["counts"] == {t: {"train": 2000, "test": 300} for t in suite.order()}
    assert set(manifest["task_hashes"]) == set(suite.order())
    assert manifest["source"]["verified"] is True
    for task in suite.order():
        path = records_path("shapes", task, "test", shapes_home)
        assert check_records_file(path, data_dir=path.parent.parent, known_scorers=SCORERS) == 300
        records = read_records(path)
        formats = {r.meta_dict["format"] for r in records}
        assert formats == {"choice", "open"}  # a mix of multiple-choice and short answer
        for r in records:
            if r.choices:  # every possible answer, always in the same order (v2)
                assert r.choices == ANSWER_SPACE[task] and r.scorer == "multiple_choice"
                assert r.choices["ABCDEF".index(r.answers[0])] == r.meta_dict["answer_text"]
    stats = json.loads((shapes_home / "suites" / "shapes" / "stats.json").read_text())
    assert stats["count"]["test"]["items"] == 300


def test_prepare_twice_is_byte_identical(toy, home: Path) -> None:
    first = prepare_suite(toy)
    files = sorted((home / "suites" / "toy").rglob("*.parquet"))
    before = {p: p.read_bytes() for p in files}
    images = {p: p.read_bytes() for p in (home / "suites" / "toy").rglob("*.png")}
    second = prepare_suite(toy)
    assert first["task_hashes"] == second["task_hashes"]
    assert {p: p.read_bytes() for p in files} == before
    assert {p: p.read_bytes() for p in (home / "suites" / "toy").rglob("*.png")} == images
    assert len(files) == 3 and len(images) == 4 + 6 + 6


def test_task_hash_changes_with_the_data(toy, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = prepare_suite(toy)["task_hashes"]
    suite_file = Path(toy.path)
    suite_file.write_text(TOY.replace("prompt_suffix: One word.", "prompt_suffix: A word."))
    after = prepare_suite(load_suite("toy"))["task_hashes"]
    assert after["a"] != before["a"] and after["b"] == before["b"]


def test_failed_prepare_keeps_the_previous_suite(toy, home: Path, monkeypatch) -> None:
    prepare_suite(toy)
    target = home / "suites" / "toy"
    manifest = (target / "manifest.json").read_bytes()
    from benchmark.suites.sources import shapes

    real = shapes.records

    def broken(request, task, split):
        yield from real(request, task, split)
        if task == "b":
            raise RecordError("simulated failure in the middle of a task")

    monkeypatch.setattr(shapes, "records", broken)
    with pytest.raises(RecordError, match="simulated failure"):
        prepare_suite(toy)
    assert (target / "manifest.json").read_bytes() == manifest
    assert sorted(p.name for p in target.parent.iterdir()) == ["toy"]


def test_unprepared_suite_says_how_to_prepare(home: Path) -> None:
    with pytest.raises(BenchmarkError, match="run: mllmcl-bench tasks prepare shapes"):
        read_manifest("shapes")
