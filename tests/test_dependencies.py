"""Every core requirement earns its place: the package imports it somewhere.

A requirement nothing imports makes every install heavier (``datasets`` alone pulls a large
tree) for nothing; such a library belongs in an extra (with its documented use) or nowhere.
"""

from __future__ import annotations

import ast
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def imported_top_level_modules() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "benchmark").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
    return names


def test_every_core_requirement_is_imported_by_the_package() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    distributions_of = metadata.packages_distributions()  # module -> distributions
    imported = {
        canonicalize_name(dist)
        for module in imported_top_level_modules()
        for dist in distributions_of.get(module, [])
    }
    unused = [
        req
        for req in map(Requirement, project["dependencies"])
        if canonicalize_name(req.name) not in imported
    ]
    assert not unused, f"core requirements the package never imports: {unused}"


def test_the_datasets_extra_is_documented_and_used() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "datasets" in project["optional-dependencies"]
    assert "datasets" in imported_top_level_modules()
    assert "load_task" in (ROOT / "README.md").read_text(encoding="utf-8")
