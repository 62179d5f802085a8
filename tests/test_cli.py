"""The command line as a user runs it: a real subprocess, help everywhere, one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def run(*args: str, home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "MLLMCL_BENCH_HOME": str(home), **env}
    environment.pop("MLLMCL_BENCH_TASKS", None)
    return subprocess.run(
        [sys.executable, "-m", "benchmark.cli", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )


@pytest.mark.parametrize(
    "args",
    [[], ["tasks"], ["tasks", "list"], ["tasks", "show"], ["tasks", "prepare"], ["metrics"]],
)
def test_help_everywhere(args: list[str], tmp_path: Path) -> None:
    result = run(*args, "--help", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "usage: mllmcl-bench" in result.stdout


def test_prepare_then_show_offline(tmp_path: Path) -> None:
    result = run("tasks", "prepare", "shapes", home=tmp_path, HF_HUB_OFFLINE="1")
    assert result.returncode == 0, result.stderr
    assert "prepared shapes v2: 9200 records" in result.stdout
    shown = run("tasks", "show", "shapes", home=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "colour → shape → count → position" in shown.stdout
    assert shown.stdout.count("items:    train 2000, test 300") == 4
    assert "question: What colour is the shape in the image?" in shown.stdout
    one = run("tasks", "show", "shapes/count", home=tmp_path)
    assert "count: Count" in one.stdout and "colour: Colour" not in one.stdout
    listed = run("tasks", "list", home=tmp_path)
    shapes_line = next(line for line in listed.stdout.splitlines() if line.startswith("shapes "))
    assert shapes_line.split()[:5] == ["shapes", "2", "4", "stable", "yes"]
    rows = {line.split()[0]: line.split()[:5] for line in listed.stdout.splitlines()[1:]}
    assert rows["ucit"] == ["ucit", "1", "6", "unverified", "no"]
    assert rows["coin"] == ["coin", "1", "8", "unverified", "no"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["tasks", "show", "nope"], "unknown suite 'nope'"),
        (["tasks", "show", "shapes/nope"], "has no task 'nope'"),
        (["metrics", "missing.csv"], "missing.csv"),
    ],
)
def test_errors_are_one_line_and_exit_2(args: list[str], message: str, tmp_path: Path) -> None:
    result = run(*args, home=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mllmcl-bench: error: ")
    assert message in lines[0]
    assert "Traceback" not in result.stderr


def test_unknown_command_exits_2(tmp_path: Path) -> None:
    assert run("frobnicate", home=tmp_path).returncode == 2
