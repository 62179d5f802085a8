"""The suite registry: built-in suites load; malformed files fail naming file and field;
a new suite needs only a YAML."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from benchmark.errors import SuiteError
from benchmark.paths import TASKS_ENV
from benchmark.suites.registry import list_suites, load_suite, load_suite_file, suite_files

GOOD = """\
id: toy
version: 2
title: Toy
changelog:
  - {version: 1, date: 2026-11-01, change: first}
  - {version: 2, date: 2026-11-20, change: new prompt}
source: {module: shapes, options: {sizes: {test: 5}}}
orders:
  default: [a, b]
probes: [p]
tasks:
  a: {name: A, scorer: exact_match, max_new_tokens: 4, options: {kind: colour}}
  b: {name: B, scorer: exact_match, max_new_tokens: 4, options: {kind: shape}}
  p: {name: P, scorer: exact_match, max_new_tokens: 4, options: {kind: count}}
"""


def write(tmp_path: Path, text: str, name: str = "toy") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_builtin_suites_load() -> None:
    suites = {s.id: s for s in list_suites()}
    assert "shapes" in suites
    shapes = suites["shapes"]
    assert shapes.order() == ["colour", "shape", "count", "position"]
    assert shapes.task("count").max_new_tokens == 8
    assert all(t.splits == ["train", "test"] for t in shapes.tasks)


def test_good_file_parses_tasks_given_as_mapping(tmp_path: Path) -> None:
    suite = load_suite_file(write(tmp_path, GOOD))
    assert [t.id for t in suite.tasks] == ["a", "b", "p"]
    assert suite.columns() == ["a", "b", "p"]
    assert suite.task("a").options == {"kind": "colour"}


@pytest.mark.parametrize(
    ("edit", "field", "message"),
    [
        (
            lambda t: t.replace("tasks:\n  a: {", "tasks:\n  a: {scorr: x, "),
            "tasks[a].scorr",
            "Extra inputs are not permitted",
        ),
        (
            lambda t: t.replace(
                "scorer: exact_match, max_new_tokens: 4, options: {kind: shape}",
                "scorer: llm_judge, max_new_tokens: 4",
            ),
            "tasks[b].scorer",
            "unknown scorer 'llm_judge'",
        ),
        (
            lambda t: t.replace(
                "max_new_tokens: 4, options: {kind: colour}", "max_new_tokens: many"
            ),
            "tasks[a].max_new_tokens",
            "valid integer",
        ),
        (
            lambda t: t.replace("default: [a, b]", "default: [a, c]"),
            "(top level)",
            "orders.default: unknown task(s) c",
        ),
        (
            lambda t: t.replace("default: [a, b]", "first: [a, b]"),
            "(top level)",
            "a 'default' order is required",
        ),
        (
            lambda t: t.replace("default: [a, b]", "default: [a, b, p]"),
            "(top level)",
            "probe(s) p in order",
        ),
        (
            lambda t: t.replace("version: 2\n", "version: 3\n"),
            "(top level)",
            "changelog: newest entry is version 2 but the suite is version 3",
        ),
        (lambda t: t.replace("title: Toy\n", ""), "title", "Field required"),
        (
            lambda t: t.replace(
                "source: {module: shapes,", "source: {module: shapes, revision: main,"
            ),
            "source.revision",
            "40-character",
        ),
    ],
    ids=[
        "extra-field",
        "unknown-scorer",
        "bad-int",
        "unknown-task-in-order",
        "no-default-order",
        "probe-in-order",
        "version-without-changelog",
        "missing-title",
        "unpinned-revision",
    ],
)
def test_malformed_suite_names_file_and_field(
    tmp_path: Path, edit, field: str, message: str
) -> None:
    path = write(tmp_path, edit(GOOD))
    with pytest.raises(SuiteError) as info:
        load_suite_file(path)
    text = str(info.value)
    assert text.startswith(f"{path}: field {field}: "), text
    assert message in text


def test_invalid_yaml_names_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("probes: [p]", "probes: [p"))
    with pytest.raises(SuiteError, match=rf"^{path}: line \d+: invalid YAML"):
        load_suite_file(path)


def test_yaml_with_python_tags_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + "evil: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(SuiteError, match="invalid YAML"):
        load_suite_file(path)


def test_id_must_match_file_name(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD, name="other")
    with pytest.raises(SuiteError, match="field id: 'toy' must equal the file name 'other'"):
        load_suite_file(path)


def test_unknown_suite_and_task_list_known_ones() -> None:
    with pytest.raises(SuiteError, match=r"unknown suite 'nope'; known: .*shapes"):
        load_suite("nope")
    with pytest.raises(SuiteError, match="has no task 'nope'; tasks: colour, shape"):
        load_suite("shapes").task("nope")


def test_a_new_suite_is_only_a_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, GOOD)
    monkeypatch.setenv(TASKS_ENV, str(tmp_path))
    assert suite_files()["toy"] == tmp_path / "toy.yaml"
    assert load_suite("toy").version == 2
