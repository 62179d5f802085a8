"""The benchmarks under tests/perf are not run by `make test` (they time things), so an import
they lose in a refactor would go unnoticed until someone runs `make bench`: every module they
collect, and every `from benchmark… import …` in them (function-level ones included) must
resolve."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

PERF = Path(__file__).parent / "perf"


def test_every_benchmark_collects() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            str(PERF),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    files = {line.split("::")[0] for line in result.stdout.splitlines() if "::" in line}
    assert len(files) == len(list(PERF.glob("test_*.py"))), result.stdout


@pytest.mark.parametrize("path", sorted(PERF.glob("test_*.py")), ids=lambda p: p.name)
def test_every_import_of_the_package_resolves(path: Path) -> None:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("benchmark"):
            module = importlib.import_module(node.module)
            for alias in node.names:
                assert hasattr(module, alias.name) or importlib.util.find_spec(
                    f"{node.module}.{alias.name}"
                ), f"{path.name}:{node.lineno}: {node.module} has no {alias.name}"
