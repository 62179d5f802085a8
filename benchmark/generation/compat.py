"""Library versions checked before any model is loaded: known-bad combinations fail first.

A release of transformers, peft or torch can break the harness overnight (transformers 5.24
refuses to attach a LoRA adapter with any released peft). pip cannot express "this pair is
broken" across two packages, and a user may install over our ranges (a vLLM install pins its
own transformers). So a backend, and the demo's trainer, call :func:`check_libraries` once
before they load anything: a bad set is one ``BenchmarkError`` naming the versions found and
the fix (the CLI prints it on one line and exits with status 2), never a traceback in the
middle of a run.

Two kinds of rule:
- the package's own requirements on the model libraries (from its installed metadata, so they
  are the ranges in pyproject.toml), and
- :data:`KNOWN_BAD`: pairs that each satisfy those ranges but fail together. Add a row when
  a new pair is found; drop it when the range excludes it for good.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import metadata

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from benchmark.errors import BenchmarkError

DISTRIBUTION = "mllmcl-bench"
# The libraries a backend loads models with; their versions decide whether it can work.
MODEL_LIBRARIES = ("torch", "transformers", "peft")
FIX = "run `make setup` for the tested, locked set, or `pip install -e .` in a fresh venv"


class IncompatibleLibraries(BenchmarkError):
    """The installed model libraries are a combination known not to work."""


@dataclass(frozen=True)
class KnownBad:
    """``package`` in ``versions`` together with ``other`` in ``other_versions`` fails."""

    package: str
    versions: str
    other: str
    other_versions: str
    reason: str
    fix: str

    def matches(self, found: Mapping[str, str | None]) -> bool:
        return _in(found.get(self.package), self.versions) and _in(
            found.get(self.other), self.other_versions
        )


KNOWN_BAD: tuple[KnownBad, ...] = (
    KnownBad(
        "transformers",
        ">=5.24",
        "peft",
        "<0.22",
        "transformers >= 5.24 refuses to attach LoRA adapters with peft < 0.22",
        "pip install 'transformers>=5.16,<5.24'",
    ),
)


def _in(version: str | None, specifier: str) -> bool:
    if version is None:
        return False
    try:
        return SpecifierSet(specifier).contains(Version(version), prereleases=True)
    except InvalidVersion:
        return False


def installed_versions(names: Iterable[str] = MODEL_LIBRARIES) -> dict[str, str | None]:
    """Installed version of each distribution, ``None`` where it is not installed."""
    found: dict[str, str | None] = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def declared_ranges(libraries: Iterable[str] = MODEL_LIBRARIES) -> dict[str, str]:
    """The package's own requirement specifiers on ``libraries`` (from its metadata)."""
    wanted = set(libraries)
    ranges: dict[str, str] = {}
    try:
        requires = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return ranges
    for line in requires:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        if req.name in wanted and (req.marker is None or req.marker.evaluate({"extra": ""})):
            ranges[req.name] = str(req.specifier)
    return ranges


def incompatibilities(
    found: Mapping[str, str | None],
    ranges: Mapping[str, str],
    known_bad: Iterable[KnownBad] = KNOWN_BAD,
) -> list[str]:
    """One sentence per problem with the versions in ``found`` (empty: all is well)."""
    problems: list[str] = []
    for name, specifier in ranges.items():
        version = found.get(name)
        if version is None:
            problems.append(f"{name} is not installed ({DISTRIBUTION} needs {name}{specifier})")
        elif specifier and not _in(version, specifier):
            problems.append(
                f"{name} {version} is installed, {DISTRIBUTION} needs {name}{specifier}"
            )
    for rule in known_bad:
        if rule.matches(found):
            problems.append(
                f"{rule.package} {found[rule.package]} with {rule.other} "
                f"{found[rule.other]}: {rule.reason}; fix: {rule.fix}"
            )
    return problems


def check_libraries(purpose: str = "load models") -> None:
    """Raise :class:`IncompatibleLibraries` (one line) if the model libraries cannot work."""
    problems = incompatibilities(installed_versions(), declared_ranges())
    if problems:
        raise IncompatibleLibraries(
            f"cannot {purpose} with these library versions: {'; '.join(problems)} ({FIX})"
        )
