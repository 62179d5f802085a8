"""``mllmcl-bench validate``: the checks a leaderboard pull request must pass.

A corpus of hostile or broken entries (tests/hostile.py), each a copy of a real committed
entry with one thing broken, must fail with a line naming the right file; the committed
entries must pass; ``--base`` must accept exactly one added entry folder and nothing else;
and no code path may import, execute, unpickle or write anything from an entry.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hostile import (
    CASES,
    COMMITTED,
    PROBE,
    REPO,
    REPORTED_OK,
    SOURCE_ENTRY,
    STEPS,
    TASKS,
    Case,
    commit_all,
    copy_entry,
    edit_results,
    git,
    predictions,
    replace_text,
    touching_pickle,
    yaml_add,
)

import benchmark.validate.checks as validate_module
from benchmark.paths import HOME_ENV, TASKS_ENV
from benchmark.validate.checks import Report, validate_entry
from benchmark.validate.pull_requests import format_reports, validate

# The template's results.json is re-scored with few bootstrap replicates: every re-check
# that reaches the metrics then takes a fraction of a second.
TEMPLATE_BOOT = 50


@pytest.fixture
def data_home(shapes_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``$MLLMCL_BENCH_HOME`` pointing at the session's prepared ``shapes`` suite."""
    monkeypatch.setenv(HOME_ENV, str(shapes_home))
    monkeypatch.delenv(TASKS_ENV, raising=False)
    return shapes_home


@pytest.fixture(scope="session")
def template(shapes_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``seq-lora-tiny`` as committed (predictions and submission.yaml), its results.json
    re-scored from those predictions by the replay backend with TEMPLATE_BOOT replicates
    against the live registry; checked to pass before any case breaks it."""
    from benchmark.evaluation.run import evaluate_entry

    entry = copy_entry(SOURCE_ENTRY, tmp_path_factory.mktemp("template"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(HOME_ENV, str(shapes_home))
        mp.delenv(TASKS_ENV, raising=False)
        evaluate_entry(entry, backend="replay", progress=False, n_boot=TEMPLATE_BOOT)
        report = validate_entry(entry)
    assert report.ok, report.problems
    return entry


@pytest.fixture
def entry(template: Path, tmp_path: Path, data_home: Path) -> Path:
    """A fresh copy of the template at ``tmp_path/submissions/shapes/seq-lora-tiny``."""
    return copy_entry(template, tmp_path)


def lines_for(report: Report, file: str) -> list[str]:
    return [p for p in report.problems if p.startswith(f"{file}: ")]


# --------------------------------------------------------------------------- the corpus


def test_corpus_is_large_and_unique() -> None:
    assert len(CASES) >= 20
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_hostile_entry_fails_naming_the_file(
    case: Case, entry: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in case.limits.items():
        monkeypatch.setattr(validate_module, name, value)
    case.make(entry)
    report = validate_entry(entry)
    assert not report.ok, f"{case.id}: passed validation"
    named = lines_for(report, case.file)
    assert named, f"{case.id}: no problem names {case.file!r}: {report.problems}"
    assert any(case.message in line for line in named), (
        f"{case.id}: expected {case.message!r} in a line about {case.file!r}: {named}"
    )
    assert all("\n" not in line for line in report.problems)
    text, ok = format_reports([report])
    assert not ok and text.startswith(f"FAIL  {entry}")


def test_the_template_copy_passes(entry: Path) -> None:
    report = validate_entry(entry)
    assert report.ok, report.problems
    assert format_reports([report]) == (f"ok    {entry}", True)


def test_differences_within_tolerance_pass(entry: Path) -> None:
    edit_results(
        entry, lambda r: r["metrics"]["last"].update(value=r["metrics"]["last"]["value"] + 1e-12)
    )
    assert validate_entry(entry).ok


def test_results_of_older_metric_definitions_fail_in_one_line_naming_rescore(
    entry: Path,
) -> None:
    # every interval of an older version differs: one line says why and what to run, not
    # one line per differing interval
    from benchmark.metrics import METRIC_DEFINITIONS_VERSION

    old = METRIC_DEFINITIONS_VERSION - 1
    edit_results(entry, lambda r: r.update(metric_definitions=old))
    report = validate_entry(entry)
    assert report.problems == [
        f"results.json: computed with metric definitions version {old}, and this harness uses "
        f'version {METRIC_DEFINITIONS_VERSION} (README, "Metrics"): `mllmcl-bench rescore '
        f"{entry}` recomputes it from the saved predictions (nothing is generated)"
    ]


def test_an_entry_that_is_a_symlink_is_refused(entry: Path, tmp_path: Path) -> None:
    link = entry.parent / "linked-entry"
    link.symlink_to(entry)
    assert validate_entry(link).problems == [f"{link}: is not an entry folder"]


@pytest.mark.parametrize("source", sorted(COMMITTED.iterdir()), ids=lambda p: p.name)
def test_committed_entries_pass(source: Path, tmp_path: Path, data_home: Path) -> None:
    """Exactly as committed (bootstrap replicates included), as CI sees them."""
    entry = copy_entry(source, tmp_path)
    report = validate_entry(entry)
    assert report.ok, report.problems


def test_validate_without_arguments_checks_every_entry(
    template: Path, tmp_path: Path, data_home: Path
) -> None:
    good = copy_entry(template, tmp_path)
    bad = copy_entry(template, tmp_path, name="another")
    (bad / "run.sh").write_text("echo\n")
    reports = validate(repo=tmp_path)
    assert [(r.target, r.ok) for r in reports] == [(str(bad), False), (str(good), True)]


# --------------------------------------------------------------------------- --base


@pytest.fixture
def repo(template: Path, tmp_path: Path, data_home: Path) -> Path:
    """A git repository whose main branch holds one entry; HEAD is a branch ``pr`` off it."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    copy_entry(template, root)
    (root / "README.md").write_text("# leaderboard\n")
    commit_all(root, "base: one entry")
    git(root, "checkout", "-q", "-b", "pr")
    return root


def pr_reports(repo: Path) -> tuple[Report, list[Report]]:
    reports = validate(base="main", repo=repo)
    return reports[0], reports[1:]


def test_base_one_added_entry_passes(repo: Path, template: Path) -> None:
    new = copy_entry(template, repo, name="my-method")
    commit_all(repo, "add my-method")
    pr, entries = pr_reports(repo)
    assert pr.ok, pr.problems
    assert [(r.target, r.ok) for r in entries] == [(str(new), True)], entries[0].problems


def test_base_added_entry_is_checked_in_full(repo: Path, template: Path) -> None:
    new = copy_entry(template, repo, name="my-method")
    edit_results(new, lambda r: r["matrix"][4].__setitem__(3, r["matrix"][4][3] + 0.01))
    commit_all(repo, "add my-method")
    pr, (report,) = pr_reports(repo)
    assert pr.ok
    assert (
        "results.json: matrix[4][3] differs from the value recomputed from the predictions"
        in report.problems
    )


def test_base_two_added_entries_fail(repo: Path, template: Path) -> None:
    copy_entry(template, repo, name="first")
    copy_entry(template, repo, name="second")
    commit_all(repo, "add two")
    pr, _ = pr_reports(repo)
    assert pr.problems == [
        "submissions: a pull request adds exactly one entry folder; this one adds 2"
    ]


def test_base_no_entry_fails(repo: Path) -> None:
    commit_all(repo, "nothing")
    pr, entries = pr_reports(repo)
    assert pr.problems == [
        "submissions: a pull request adds exactly one entry folder; this one adds 0"
    ]
    assert entries == []


def test_base_modifying_an_existing_entry_fails(repo: Path, template: Path) -> None:
    copy_entry(template, repo, name="my-method")
    existing = repo / "submissions" / "shapes" / "seq-lora-tiny"
    edit_results(existing, lambda r: r["metrics"]["last"].update(value=99.0))
    commit_all(repo, "add mine, improve theirs")
    pr, _ = pr_reports(repo)
    assert pr.problems == [
        "submissions/shapes/seq-lora-tiny/results.json: modifies the existing entry "
        "shapes/seq-lora-tiny (M); a pull request adds one new entry and changes no other"
    ]


def test_base_adding_a_file_to_an_existing_entry_fails(repo: Path) -> None:
    (repo / "submissions" / "shapes" / "seq-lora-tiny" / "notes.md").write_text("hi\n")
    commit_all(repo, "sneak a file in")
    pr, _ = pr_reports(repo)
    assert pr.problems[0].startswith(
        "submissions/shapes/seq-lora-tiny/notes.md: adds a file to the existing entry"
    )


def test_base_deleting_an_existing_entry_fails(repo: Path) -> None:
    git(repo, "rm", "-q", "-r", "submissions/shapes/seq-lora-tiny")
    commit_all(repo, "remove a rival")
    pr, entries = pr_reports(repo)
    assert entries == []
    assert len(pr.problems) == 2 + STEPS * len(TASKS)  # every file of the entry
    assert (
        "submissions/shapes/seq-lora-tiny/results.json: deletes a file of the existing entry "
        "shapes/seq-lora-tiny (D); a pull request adds one new entry and changes no other"
    ) in pr.problems


def test_base_changing_a_file_outside_submissions_fails(repo: Path, template: Path) -> None:
    copy_entry(template, repo, name="my-method")
    (repo / "README.md").write_text("# leaderboard, improved\n")
    (repo / ".github").mkdir()
    (repo / ".github" / "evil.yml").write_text("on: push\n")
    commit_all(repo, "add mine and touch the repo")
    pr, entries = pr_reports(repo)
    message = "a leaderboard pull request may only add files inside its own entry folder"
    assert pr.problems == [
        f".github/evil.yml: {message} submissions/<suite>/<entry>/",
        f"README.md: {message} submissions/<suite>/<entry>/",
    ]
    assert [r.ok for r in entries] == [True]  # the entry itself is still checked


def test_base_loose_file_in_a_suite_folder_fails(repo: Path) -> None:
    (repo / "submissions" / "shapes" / "leaderboard.json").write_text("{}")
    commit_all(repo, "loose file")
    pr, _ = pr_reports(repo)
    assert pr.problems[0].startswith(
        "submissions/shapes/leaderboard.json: a leaderboard pull "
        "request may only add files inside its own entry folder"
    )


def test_base_is_the_merge_base(repo: Path, template: Path) -> None:
    """Entries merged into main after the branch point are not the pull request's."""
    copy_entry(template, repo, name="my-method")
    commit_all(repo, "add my-method")
    git(repo, "checkout", "-q", "main")
    copy_entry(template, repo, name="merged-meanwhile")
    commit_all(repo, "someone else's entry")
    git(repo, "checkout", "-q", "pr")
    pr, entries = pr_reports(repo)
    assert pr.ok, pr.problems
    assert [Path(r.target).name for r in entries] == ["my-method"]


def test_base_committed_symlink_fails(repo: Path, template: Path) -> None:
    new = copy_entry(template, repo, name="my-method")
    (new / "secrets.json").symlink_to("/etc/passwd")
    commit_all(repo, "add my-method with a link")
    pr, (report,) = pr_reports(repo)
    assert pr.problems == [
        "submissions/shapes/my-method/secrets.json: is a symbolic link; "
        "entries hold plain files only"
    ]
    assert "secrets.json: is a symbolic link; entries may not contain links" in report.problems


def test_base_committed_executable_fails(repo: Path, template: Path) -> None:
    new = copy_entry(template, repo, name="my-method")
    (new / "README.md").write_text("# my method\n")
    (new / "README.md").chmod(0o755)
    commit_all(repo, "add my-method")
    pr, (report,) = pr_reports(repo)
    assert pr.ok
    assert report.problems == ["README.md: is executable; remove the executable bit"]


def test_base_unusual_file_names_are_attributed_to_their_entry(repo: Path, template: Path) -> None:
    """git quotes such names unless -z: the change must still count as inside the entry."""
    new = copy_entry(template, repo, name="my-method")
    (new / "predictions" / "résumé\tx.jsonl").write_text("\n")
    commit_all(repo, "add my-method")
    pr, (report,) = pr_reports(repo)
    assert pr.ok, pr.problems
    assert report.problems[0].startswith(
        "predictions/r\\xe9sum\\xe9\\tx.jsonl: name must use only letters"
    )


def test_base_unknown_ref_is_an_error(repo: Path) -> None:
    from benchmark.errors import BenchmarkError

    with pytest.raises(BenchmarkError, match="merge-base"):
        validate(base="no-such-branch", repo=repo)


def test_cli_base_exit_status(repo: Path, template: Path) -> None:
    copy_entry(template, repo, name="my-method")
    commit_all(repo, "add my-method")
    ok = run_cli("validate", "--base", "main", "--repo", str(repo), cwd=repo)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.splitlines() == [
        "ok    changes since main",
        f"ok    {repo}/submissions/shapes/my-method",
    ]
    (repo / "README.md").write_text("changed\n")
    commit_all(repo, "and the readme")
    bad = run_cli("validate", "--base", "main", "--repo", str(repo), cwd=repo)
    assert bad.returncode == 1
    assert bad.stdout.splitlines()[:2] == [
        "FAIL  changes since main",
        "      README.md: a leaderboard pull request may only add files inside its own "
        "entry folder submissions/<suite>/<entry>/",
    ]


def test_base_escapes_what_it_prints(repo: Path, template: Path) -> None:
    """A folder name with newlines can neither start a workflow command (``::error::``) nor
    print a fake ``ok`` line in the CI log: every printed line is one of the report's."""
    copy_entry(template, repo, name="evil\n::error file=README.md::pwned\nok    fake")
    commit_all(repo, "add an entry with a hostile folder name")
    text, ok = format_reports(validate(base="main", repo=repo))
    assert not ok
    lines = text.splitlines()
    assert all(line.startswith(("ok    ", "FAIL  ", "      ")) for line in lines), lines
    assert not any(line.lstrip().startswith("::") for line in lines), lines
    assert "ok    fake" not in lines
    assert any("evil\\n::error file=README.md::pwned\\nok    fake" in line for line in lines)


def test_reports_print_control_characters_escaped() -> None:
    report = Report("sub\r\nmissions/\u202eevil", ["a\u2028b: c\x1b[31m\n::warning::x"])
    text, ok = format_reports([Report("::error::x"), report])
    assert not ok
    assert text.splitlines() == [
        "ok    ::error::x",
        "FAIL  sub\\r\\nmissions/\\u202eevil",
        "      a\\u2028b: c\\x1b[31m\\n::warning::x",
    ]


# --------------------------------------------------------------------------- nothing runs


def cli_command() -> list[str]:
    """The console script CI runs (its own folder on sys.path, not the working directory)."""
    script = Path(sys.executable).with_name("mllmcl-bench")
    return [str(script)] if script.is_file() else [sys.executable, "-I", "-m", "benchmark.cli"]


def run_cli(*args: str, cwd: Path, probe: bool = False) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["OMP_NUM_THREADS"] = "1"
    command = [sys.executable, "-I", "-c", PROBE] if probe else cli_command()
    return subprocess.run(
        [*command, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def plant_payloads(entry: Path, marker: Path) -> None:
    """Everything that would create ``marker`` if imported, executed or unpickled."""
    code = f"open({str(marker)!r}, 'w').close()\n"
    for name in (
        "conftest.py",
        "__init__.py",
        "setup.py",
        "sitecustomize.py",
        "yaml.py",
        "json.py",
        "benchmark.py",
        "usercustomize.py",
        "__main__.py",
    ):
        (entry / name).write_text(code)
    (entry / "evil.pth").write_text(f"import os; {code}")
    (entry / "run.sh").write_text(f"#!/bin/sh\ntouch {marker}\n")
    (entry / "model.pt").write_bytes(touching_pickle(marker))
    (entry / "buffer.pkl").write_bytes(touching_pickle(marker))
    (entry / "weights.json").write_bytes(touching_pickle(marker))  # a pickle in disguise
    replace_text(
        entry / "submission.yaml",
        "license: apache-2.0",
        f"license: !!python/object/apply:builtins.open [{str(marker)!r}, 'w']",
    )


def test_nothing_from_an_entry_is_imported_or_executed(
    entry: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "PWNED"
    plant_payloads(entry, marker)
    monkeypatch.chdir(entry)  # where a careless `import yaml` would find the entry's yaml.py
    report = validate_entry(entry)
    assert not report.ok and not marker.exists()
    for name in ("conftest.py", "sitecustomize.py", "model.pt", "buffer.pkl", "run.sh"):
        assert lines_for(report, name), name
    assert any("weights.json: is a pickle" in p for p in report.problems)


def test_nothing_from_an_entry_is_imported_or_executed_via_the_cli(
    template: Path, tmp_path: Path, data_home: Path
) -> None:
    """The real command, watched by an audit hook, on a clean entry (the full path through
    the replay re-check) and a loaded one, from inside the loaded entry."""
    clean = copy_entry(template, tmp_path)
    loaded = copy_entry(template, tmp_path, name="loaded")
    marker = tmp_path / "PWNED"
    plant_payloads(loaded, marker)
    only_yaml = copy_entry(template, tmp_path, name="only-yaml")  # passes the file checks
    replace_text(
        only_yaml / "submission.yaml",
        "license: apache-2.0",
        f"license: !!python/object/apply:builtins.open [{str(marker)!r}, 'w']",
    )
    log = tmp_path / "events.json"
    result = run_cli(
        str(tmp_path / "submissions"),
        str(log),
        "validate",
        str(clean),
        str(loaded),
        str(only_yaml),
        cwd=loaded,
        probe=True,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert not marker.exists()
    lines = result.stdout.splitlines()
    assert f"ok    {clean}" in lines and f"FAIL  {loaded}" in lines
    assert f"FAIL  {only_yaml}" in lines
    assert any("could not determine a constructor for the tag" in line for line in lines)
    events = json.loads(log.read_text())
    assert events == [], f"the validation touched entry content: {events}"


# (module, attribute) pairs the checking code must never use
FORBIDDEN_ATTRIBUTES = {
    *(
        ("yaml", name)
        for name in (
            "load",
            "load_all",
            "unsafe_load",
            "unsafe_load_all",
            "full_load",
            "full_load_all",
            "Loader",
            "UnsafeLoader",
            "FullLoader",
            "CLoader",
            "CUnsafeLoader",
            "CFullLoader",
        )
    ),
    ("torch", "load"),
    ("np", "load"),
    ("numpy", "load"),
    ("importlib", "import_module"),
    ("os", "system"),
    ("os", "popen"),
    ("os", "execv"),
    ("os", "execvp"),
    ("builtins", "eval"),
    ("builtins", "exec"),
    ("builtins", "compile"),
    ("builtins", "__import__"),
}
FORBIDDEN_BUILTINS = {"eval", "exec", "compile", "__import__", "breakpoint"}
FORBIDDEN_MODULES = {
    "pickle",
    "_pickle",
    "marshal",
    "shelve",
    "dill",
    "joblib",
    "cloudpickle",
    "runpy",
    "importlib",
    "torch",
    "code",
    "pty",
}
UNSAFE_FROM_YAML = {name for module, name in FORBIDDEN_ATTRIBUTES if module == "yaml"}
CHECKED_MODULES = (
    "benchmark/validate/checks.py",
    "benchmark/validate/pull_requests.py",
    "benchmark/entry/submission.py",
    "benchmark/entry/results.py",
    "benchmark/entry/predictions.py",
    "benchmark/entry/strict.py",
    "benchmark/evaluation/rescore.py",
)


def unsafe_uses(tree: ast.AST) -> list[str]:
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [
                f"import {a.name}" for a in node.names if a.name.split(".")[0] in FORBIDDEN_MODULES
            ]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if module.split(".")[0] in FORBIDDEN_MODULES:
                found.append(f"from {module} import")
            if module == "yaml":
                found += [
                    f"from yaml import {a.name}" for a in node.names if a.name in UNSAFE_FROM_YAML
                ]
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if (node.value.id, node.attr) in FORBIDDEN_ATTRIBUTES:
                found.append(f"{node.value.id}.{node.attr}")
        elif isinstance(node, ast.Name) and node.id in FORBIDDEN_BUILTINS:
            found.append(node.id)
        elif isinstance(node, ast.keyword) and node.arg == "Loader":
            value = node.value
            if not (isinstance(value, ast.Attribute) and value.attr == "SafeLoader"):
                found.append("Loader= other than yaml.SafeLoader")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "subprocess"
        ):
            first = node.args[0] if node.args else None
            runs_git = (
                isinstance(first, ast.List)
                and bool(first.elts)
                and isinstance(first.elts[0], ast.Constant)
                and first.elts[0].value == "git"
            )
            if not runs_git or any(k.arg == "shell" for k in node.keywords):
                found.append(f"subprocess.{node.func.attr} other than git without a shell")
    return found


@pytest.mark.parametrize("module", CHECKED_MODULES)
def test_no_unsafe_loading_in_the_checking_code(module: str) -> None:
    """Static: the modules that read entries never load YAML unsafely, unpickle, torch.load,
    eval/exec/compile or import by name; the only process they start is git, without a
    shell."""
    found = unsafe_uses(ast.parse((REPO / module).read_text(encoding="utf-8")))
    assert found == [], f"{module}: {found}"


def test_the_static_check_is_not_blind() -> None:
    bad = ast.parse(
        "import pickle\nfrom yaml import load\nimport yaml, torch, subprocess\n"
        "yaml.load(t, Loader=yaml.Loader)\nyaml.unsafe_load(t)\ntorch.load(p)\neval(s)\n"
        "exec(s)\n__import__(n)\nsubprocess.run('git status', shell=True)\n"
        "subprocess.run(['sh', '-c', s])\nyaml.safe_load(t)\nre.compile(x)\n"
    )
    assert sorted(unsafe_uses(bad)) == sorted(
        [
            "import pickle",
            "from yaml import load",
            "import torch",
            "yaml.load",
            "Loader= other than yaml.SafeLoader",
            "yaml.Loader",
            "yaml.unsafe_load",
            "torch.load",
            "eval",
            "exec",
            "__import__",
            "subprocess.run other than git without a shell",
            "subprocess.run other than git without a shell",
        ]
    )


def test_the_probe_sees_what_it_should(tmp_path: Path) -> None:
    """The audit-hook probe is not blind: it reports an import from the folder and a write."""
    watched = tmp_path / "watched"
    watched.mkdir()
    (watched / "planted.py").write_text("X = 1\n")
    script = PROBE.replace(
        "from benchmark.cli import main",
        (
            f"sys.path.insert(0, {str(watched)!r}); import planted\n"
            f"open({str(watched / 'out.txt')!r}, 'w').close()\n"
            "from benchmark.cli import main"
        ),
    )
    log = tmp_path / "events.json"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run(
        [sys.executable, "-I", "-c", script, str(watched), str(log), "--version"],
        env=env,
        capture_output=True,
        timeout=120,
    )
    kinds = {event[0] for event in json.loads(log.read_text())}
    assert {"import with the folder on sys.path", "compile", "exec", "write"} <= kinds, kinds


def test_validate_leaves_the_entry_untouched(entry: Path) -> None:
    before = {p: p.read_bytes() for p in entry.rglob("*") if p.is_file()}
    assert validate_entry(entry).ok
    after = {p: p.read_bytes() for p in entry.rglob("*") if p.is_file()}
    assert before == after


def test_predictions_file_checked_before_it_is_parsed(entry: Path) -> None:
    """A pickle in a predictions file is refused by its bytes; nothing reads it as JSON."""
    path = predictions(entry, 0, "colour")
    path.write_bytes(touching_pickle(entry.parent / "PWNED"))
    report = validate_entry(entry)
    assert report.problems[0].startswith("predictions/step-00/colour.jsonl: is a pickle")
    assert not (entry.parent / "PWNED").exists()


def test_the_payloads_are_live(tmp_path: Path) -> None:
    """The planted payloads do create the marker when loaded the unsafe way, so their
    absence above means they were never loaded."""
    import pickle

    import yaml

    marker = tmp_path / "PWNED"
    pickle.loads(touching_pickle(marker))
    assert marker.exists()
    marker.unlink()
    handle = yaml.unsafe_load(f"x: !!python/object/apply:builtins.open [{str(marker)!r}, 'w']")
    handle["x"].close()
    assert marker.exists()
    marker.unlink()
    exec(compile(f"open({str(marker)!r}, 'w').close()", "conftest.py", "exec"))
    assert marker.exists()


# --------------------------------------------------------------------------- reported numbers

PAPER_ENTRY = REPO / "submissions" / "mllm-cl-domain" / "lora-ft-paper"


def test_a_measured_entry_with_its_papers_numbers_passes(entry: Path) -> None:
    yaml_add(REPORTED_OK)(entry)
    report = validate_entry(entry)
    assert report.ok, report.problems


@pytest.fixture
def paper_entry(tmp_path: Path, data_home: Path) -> Path:
    """The committed reported-only entry (MLLM-CL's published LoRA-FT numbers), copied."""
    target = tmp_path / "submissions" / "mllm-cl-domain" / PAPER_ENTRY.name
    shutil.copytree(PAPER_ENTRY, target)
    return target


def test_the_committed_reported_only_entry_passes(paper_entry: Path) -> None:
    report = validate_entry(paper_entry)
    assert report.ok, report.problems
    assert format_reports([report]) == (f"ok    {paper_entry}", True)


REPORTED_ONLY_CASES = [
    (
        "results-json-added",
        lambda e: (e / "results.json").write_text("{}\n"),
        "results.json: a reported_only entry holds submission.yaml only",
    ),
    (
        "predictions-added",
        lambda e: (e / "predictions").mkdir(),
        "predictions: a reported_only entry holds submission.yaml only",
    ),
    (
        "source-removed",
        lambda e: replace_text(
            e / "submission.yaml",
            "  source:\n    url: https://arxiv.org/abs/2506.05453\n",
            "  source:\n",
        ),
        "field reported.source.url: Field required",
    ),
    (
        "reported-removed",
        lambda e: replace_text(e / "submission.yaml", "reported:\n", "reported_by_paper:\n"),
        "submission.yaml: field reported_by_paper: Extra inputs are not permitted",
    ),
    (
        "with-checkpoints",
        lambda e: replace_text(
            e / "submission.yaml",
            "uses_replay: false\n",
            "uses_replay: false\ncheckpoints:\n- {step: 1, task: rs, kind: lora, path: a}\n",
        ),
        "an entry of a paper's numbers lists no checkpoints",
    ),
    (
        "tasks-of-another-order",
        lambda e: replace_text(
            e / "submission.yaml",
            "tasks: [rs, med, ad, sci, fin]",
            "tasks: [rs, med, ad, fin, sci]",
        ),
        "field reported.tasks: ['rs', 'med', 'ad', 'fin', 'sci'], but order 'default' trains",
    ),
    (
        "old-suite-version",
        lambda e: replace_text(e / "submission.yaml", "suite_version: 2", "suite_version: 1"),
        "field suite_version: 1, but mllm-cl-domain is version 2",
    ),
    (
        "unknown-suite",
        lambda e: replace_text(e / "submission.yaml", "suite: mllm-cl-domain", "suite: nowhere"),
        "submission.yaml: field suite: 'nowhere' but the entry is under",
    ),
    (
        "markup-in-the-location",
        lambda e: replace_text(
            e / "submission.yaml", "location: Domain", "location: <script>x</script> Domain"
        ),
        "field reported.source.location: looks like HTML or a script",
    ),
]


@pytest.mark.parametrize(
    ("make", "message"),
    [case[1:] for case in REPORTED_ONLY_CASES],
    ids=[case[0] for case in REPORTED_ONLY_CASES],
)
def test_reported_only_entries_are_checked_for_shape_and_provenance(
    paper_entry: Path, make: Callable[[Path], Any], message: str
) -> None:
    make(paper_entry)
    report = validate_entry(paper_entry)
    assert not report.ok
    assert any(message in problem for problem in report.problems), report.problems
    assert all("\n" not in problem for problem in report.problems)
