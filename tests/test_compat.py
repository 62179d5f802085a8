"""Known-bad library combinations fail first, as one line, before any model is loaded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from tinyworld import make_entry

from benchmark.generation.compat import (
    KNOWN_BAD,
    IncompatibleLibraries,
    check_libraries,
    declared_ranges,
    incompatibilities,
    installed_versions,
)
from benchmark.paths import HOME_ENV, TASKS_ENV

RANGES = {"torch": ">=2.6", "transformers": "<5.24,>=5.16", "peft": ">=0.17"}


def test_the_installed_set_passes() -> None:
    # the locked environment the tests run in is one the check accepts
    assert incompatibilities(installed_versions(), declared_ranges()) == []
    check_libraries()


def test_declared_ranges_come_from_the_package_metadata() -> None:
    ranges = declared_ranges()
    assert set(ranges) == {"torch", "transformers", "peft"}
    assert "<5.24" in ranges["transformers"]


def test_transformers_5_24_with_peft_0_21_is_refused() -> None:
    found = {"torch": "2.13.0", "transformers": "5.24.0", "peft": "0.21.2"}
    problems = incompatibilities(found, {})
    assert problems == [
        "transformers 5.24.0 with peft 0.21.2: transformers >= 5.24 refuses to attach LoRA "
        "adapters with peft < 0.22; fix: pip install 'transformers>=5.16,<5.24'"
    ]
    # once a peft that supports it exists, the pair is no longer known-bad
    assert incompatibilities({**found, "peft": "0.22.0"}, {}) == []
    assert incompatibilities({**found, "transformers": "5.23.0"}, {}) == []


def test_versions_outside_the_declared_ranges_are_named() -> None:
    found = {"torch": "2.5.1", "transformers": "5.20.0", "peft": None}
    assert incompatibilities(found, RANGES, known_bad=()) == [
        "torch 2.5.1 is installed, mllmcl-bench needs torch>=2.6",
        "peft is not installed (mllmcl-bench needs peft>=0.17)",
    ]
    # local version labels (the CPU build) and release candidates are compared correctly
    ok = {"torch": "2.13.0+cpu", "transformers": "5.23.0rc1", "peft": "0.21.2"}
    assert incompatibilities(ok, RANGES) == []


def test_every_known_bad_rule_is_well_formed() -> None:
    for rule in KNOWN_BAD:
        assert rule.reason and rule.fix.startswith("pip install")
        assert not rule.matches({})  # nothing installed: nothing matches


def fake_distribution(folder: Path, name: str, version: str) -> None:
    info = folder / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")


def test_evaluate_with_a_bad_set_is_one_line_and_exit_2(env, tmp_path: Path) -> None:
    # a transformers 5.24 distribution found first on sys.path, next to the real peft
    fakes = tmp_path / "fakes"
    fake_distribution(fakes, "transformers", "5.24.0")
    entry = make_entry(tmp_path, env)
    cache = tmp_path / "cache.sqlite"
    environment = {
        **os.environ,
        "PYTHONPATH": str(fakes),
        HOME_ENV: os.environ[HOME_ENV],
        TASKS_ENV: os.environ[TASKS_ENV],
    }
    command = ["evaluate", "--submission", str(entry), "--backend", "hf", "--cache", str(cache)]
    result = subprocess.run(
        [sys.executable, "-m", "benchmark.cli", *command],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    peft_version = installed_versions(["peft"])["peft"]
    assert "transformers 5.24.0 is installed, mllmcl-bench needs transformers" in lines[0]
    assert f"transformers 5.24.0 with peft {peft_version}" in lines[0]
    assert "pip install 'transformers>=5.16,<5.24'" in lines[0]
    assert not cache.exists()  # nothing was generated, not even a cache opened
    assert not (entry / "results.json").exists()


def test_check_libraries_raises_the_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import benchmark.generation.compat as compat

    monkeypatch.setattr(
        compat,
        "installed_versions",
        lambda names=(): {"torch": "2.13.0", "transformers": "5.24.1", "peft": "0.21.0"},
    )
    with pytest.raises(IncompatibleLibraries, match=r"^cannot train the demo with these"):
        check_libraries("train the demo")
