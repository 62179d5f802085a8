"""``mllmcl-bench validate``: the checks a leaderboard pull request must pass.

Anyone can open such a pull request, so every check treats the entry as hostile: files are
inspected with ``lstat`` (symlinks are refused, never followed), types are sniffed from
their first bytes (not trusted from the extension), YAML is read with the safe loader, and
nothing from the entry is imported or executed. Metrics are recomputed by re-scoring the
saved predictions (the replay backend) and must equal those in ``results.json``.
"""

from __future__ import annotations

import json
import math
import re
import stat
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from benchmark.backends.replay import PredictionsError, read_predictions
from benchmark.errors import BenchmarkError
from benchmark.evaluate import evaluate_entry
from benchmark.records import read_records
from benchmark.submission import (
    MARKUP,
    PREDICTIONS_DIR,
    RESULTS_FILE,
    SUBMISSION_FILE,
    SubmissionError,
    load_results,
    load_submission,
    step_dir,
)
from benchmark.suites import load_suite, records_path

SUBMISSIONS_DIR = "submissions"
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
# Checkpoint folders also hold a chat template (.jinja) and tokenizer vocabularies (.txt).
ALLOWED_SUFFIXES = {".yaml", ".yml", ".json", ".jsonl", ".md", ".safetensors", ".jinja", ".txt"}
MAX_FILE_BYTES = {".safetensors": 200 << 20}
DEFAULT_MAX_FILE = 50 << 20
MAX_ENTRY_BYTES = 300 << 20
MAX_FILES = 2000
MAX_DEPTH = 4
TOLERANCE = 1e-9
# First bytes of formats that must never be in an entry, whatever the extension says.
MAGIC = {
    b"\x80\x02": "a pickle",
    b"\x80\x03": "a pickle",
    b"\x80\x04": "a pickle",
    b"\x80\x05": "a pickle",
    b"PK\x03\x04": "a zip archive (or a torch .pt/.bin file)",
    b"\x1f\x8b": "a gzip archive",
    b"BZh": "a bzip2 archive",
    b"\xfd7zXZ": "an xz archive",
    b"7z\xbc\xaf": "a 7z archive",
    b"\x7fELF": "an executable (ELF)",
    b"MZ": "an executable (PE)",
    b"\xcf\xfa\xed\xfe": "an executable (Mach-O)",
    b"#!": "a script",
}


@dataclass
class Report:
    """Problems found in one entry (or in the pull request as a whole)."""

    target: str
    problems: list[str] = field(default_factory=list)

    def add(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    @property
    def ok(self) -> bool:
        return not self.problems


# --------------------------------------------------------------------------- files


def _sniff(path: Path, suffix: str) -> str | None:
    """What is wrong with a file's contents for its extension, or None."""
    with open(path, "rb") as handle:
        head = handle.read(16)
    for magic, what in MAGIC.items():
        if head.startswith(magic):
            return f"is {what}; only YAML, JSON, JSONL, Markdown and safetensors are allowed"
    if suffix == ".safetensors":
        if len(head) < 9 or head[8:9] != b"{":
            return "is not a safetensors file (no JSON header)"
        return None
    try:
        path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return "is not UTF-8 text"
    return None


def check_files(entry: Path, report: Report) -> None:
    """Names, types, sizes and links of every path in the entry (nothing is followed)."""
    total, count = 0, 0
    stack = [entry]
    while stack:
        folder = stack.pop()
        for child in sorted(folder.iterdir()):
            rel = child.relative_to(entry).as_posix()
            info = child.lstat()
            count += 1
            if stat.S_ISLNK(info.st_mode):
                report.add(rel, "is a symbolic link; entries may not contain links")
                continue
            if not SAFE_NAME.match(child.name) or child.name.startswith("."):
                report.add(
                    rel,
                    "name must use only letters, digits, '.', '_' and '-' and not "
                    "start with '.' (no hidden or hard-to-see names)",
                )
                continue
            if len(PurePosixPath(rel).parts) > MAX_DEPTH:
                report.add(rel, f"nested deeper than {MAX_DEPTH} levels")
                continue
            if stat.S_ISDIR(info.st_mode):
                stack.append(child)
                continue
            if not stat.S_ISREG(info.st_mode):
                report.add(rel, "is not a regular file")
                continue
            if info.st_nlink > 1:
                report.add(rel, "is a hard link; entries may not contain links")
                continue
            if info.st_mode & 0o111:
                report.add(rel, "is executable; remove the executable bit")
                continue
            suffix = child.suffix.lower()
            if suffix not in ALLOWED_SUFFIXES:
                report.add(
                    rel,
                    f"file type {suffix or '(none)'!r} is not allowed; only "
                    f"{', '.join(sorted(ALLOWED_SUFFIXES))}",
                )
                continue
            limit = MAX_FILE_BYTES.get(suffix, DEFAULT_MAX_FILE)
            if info.st_size > limit:
                report.add(rel, f"is {info.st_size} bytes; the limit for {suffix} is {limit}")
                continue
            total += info.st_size
            problem = _sniff(child, suffix)
            if problem:
                report.add(rel, problem)
    if count > MAX_FILES:
        report.add(".", f"{count} files; at most {MAX_FILES}")
    if total > MAX_ENTRY_BYTES:
        report.add(".", f"{total} bytes in all; the limit is {MAX_ENTRY_BYTES}")


# --------------------------------------------------------------------------- contents


def _close(a: Any, b: Any, path: str, out: list[str]) -> None:
    """Collect paths where two JSON values differ (numbers within TOLERANCE are equal)."""
    if isinstance(a, bool) or isinstance(b, bool):
        if a != b:
            out.append(path)
    elif isinstance(a, int | float) and isinstance(b, int | float):
        if not math.isclose(float(a), float(b), rel_tol=0.0, abs_tol=TOLERANCE):
            out.append(path)
    elif isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                out.append(f"{path}.{key}")
            else:
                _close(a[key], b[key], f"{path}.{key}", out)
    elif isinstance(a, list | tuple) and isinstance(b, list | tuple):
        if len(a) != len(b):
            out.append(path)
        else:
            for i, (x, y) in enumerate(zip(a, b, strict=True)):
                _close(x, y, f"{path}[{i}]", out)
    elif a != b:
        out.append(path)


def check_contents(entry: Path, report: Report, *, n_boot: int | None = None) -> None:
    """Schema, registry, prediction coverage and recomputed metrics."""
    try:
        submission = load_submission(entry)
    except SubmissionError as exc:
        report.add(SUBMISSION_FILE, str(exc).split(": ", 1)[-1])
        return
    for field_name in ("method", "extra_data", "notes", "license"):
        value = getattr(submission, field_name)
        if value and MARKUP.search(value):
            report.add(
                SUBMISSION_FILE, f"field {field_name}: looks like HTML or a script; use plain text"
            )
    if MARKUP.search(submission.base_model.id):
        report.add(SUBMISSION_FILE, "field base_model.id: looks like HTML or a script")
    if entry.name != submission.name:
        report.add(
            SUBMISSION_FILE, f"name {submission.name!r} must equal the folder name {entry.name!r}"
        )
    if entry.parent.name != submission.suite and entry.parent.parent.name == SUBMISSIONS_DIR:
        report.add(
            SUBMISSION_FILE,
            f"suite {submission.suite!r} but the entry is under submissions/{entry.parent.name}/",
        )
    try:
        suite = load_suite(submission.suite)
    except BenchmarkError as exc:
        report.add(SUBMISSION_FILE, str(exc))
        return
    if submission.suite_version != suite.version:
        report.add(
            SUBMISSION_FILE,
            f"suite_version {submission.suite_version}, but {suite.id} is version {suite.version}",
        )
        return
    try:
        results = load_results(entry / RESULTS_FILE)
    except SubmissionError as exc:
        report.add(RESULTS_FILE, str(exc).split(": ", 1)[-1])
        return
    from benchmark.evaluate import _ensure_prepared  # prepares offline suites on demand

    manifest = _ensure_prepared(suite)
    columns = suite.columns(submission.order)
    if results.suite != suite.id or results.suite_version != suite.version:
        report.add(
            RESULTS_FILE,
            f"is for {results.suite} v{results.suite_version}, the entry "
            f"for {suite.id} v{suite.version}",
        )
    if [*results.tasks, *results.probes] != columns:
        report.add(
            RESULTS_FILE,
            f"tasks {results.tasks + results.probes} differ from the suite's columns {columns}",
        )
        return
    for task in columns:
        if results.task_hashes.get(task) != manifest["task_hashes"].get(task):
            report.add(
                RESULTS_FILE,
                f"task hash of {task!r} does not match the registry's data "
                "(evaluated on different records)",
            )
    steps = range(len(results.tasks) + 1)
    expected = {f"{PREDICTIONS_DIR}/{step_dir(s)}/{t}.jsonl" for s in steps for t in columns}
    present = (
        {
            p.relative_to(entry).as_posix()
            for p in (entry / PREDICTIONS_DIR).rglob("*")
            if p.is_file()
        }
        if (entry / PREDICTIONS_DIR).is_dir()
        else set()
    )
    for extra in sorted(present - expected):
        report.add(
            extra,
            "is not a predictions file of this suite (expected "
            "predictions/step-XX/<task>.jsonl for steps 0..T)",
        )
    coverage_ok = True
    for task in columns:
        uids = [r.uid for r in read_records(records_path(suite.id, task))]
        wanted = set(uids)
        for s in steps:
            rel = f"{PREDICTIONS_DIR}/{step_dir(s)}/{task}.jsonl"
            try:
                saved = read_predictions(entry / rel)
            except PredictionsError as exc:
                report.add(rel, str(exc).split(": ", 1)[-1])
                coverage_ok = False
                continue
            missing = [u for u in uids if u not in saved]
            extra = [u for u in saved if u not in wanted]
            if missing:
                report.add(
                    rel,
                    f"{len(missing)} uid(s) of the suite have no prediction, e.g. {missing[0]!r}",
                )
                coverage_ok = False
            if extra:
                report.add(rel, f"{len(extra)} uid(s) are not in the suite, e.g. {extra[0]!r}")
                coverage_ok = False
    if not coverage_ok or not report.ok:
        return
    claimed = json.loads((entry / RESULTS_FILE).read_text(encoding="utf-8"))
    boot = claimed.get("bootstrap", {})
    with tempfile.TemporaryDirectory(prefix="mllmcl-validate-") as scratch:
        recomputed = evaluate_entry(
            entry,
            backend="replay",
            out_dir=Path(scratch),
            progress=False,
            n_boot=n_boot or int(boot.get("replicates", 1000)),
            seed=int(boot.get("seed", 0)),
        ).results
    for part in ("matrix", "cells", "metrics", "probe_drops", "task_hashes", "verified"):
        differences: list[str] = []
        _close(recomputed.get(part), claimed.get(part), part, differences)
        for where in differences[:5]:
            report.add(
                RESULTS_FILE, f"{where} differs from the value recomputed from the predictions"
            )
        if len(differences) > 5:
            report.add(RESULTS_FILE, f"{part}: {len(differences) - 5} more differences")


def validate_entry(entry: Path) -> Report:
    """Every check of one entry folder; the report lists each problem on one line."""
    entry = Path(entry)
    report = Report(str(entry))
    if entry.is_symlink() or not entry.is_dir():
        report.add(str(entry), "is not an entry folder")
        return report
    check_files(entry, report)
    if not (entry / SUBMISSION_FILE).is_file():
        report.add(SUBMISSION_FILE, "missing")
    if not (entry / RESULTS_FILE).is_file():
        report.add(RESULTS_FILE, "missing (run mllmcl-bench evaluate on the entry)")
    if report.ok:
        check_contents(entry, report)
    return report


# --------------------------------------------------------------------------- pull requests


def _git(repo: Path, *args: str) -> str:
    result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise BenchmarkError(f"git {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def changed_entries(repo: Path, base: str) -> tuple[list[Path], Report]:
    """The entry folders a pull request adds (against the merge base with ``base``)."""
    report = Report(f"changes since {base}")
    merge_base = _git(repo, "merge-base", base, "HEAD").strip()
    lines = _git(repo, "diff", "--name-status", "--no-renames", merge_base, "HEAD").splitlines()
    added: set[tuple[str, str]] = set()
    for line in lines:
        status, _, path = line.partition("\t")
        parts = PurePosixPath(path).parts
        if len(parts) < 4 or parts[0] != SUBMISSIONS_DIR:
            report.add(
                path,
                "a leaderboard pull request may only add files inside its own "
                "entry folder submissions/<suite>/<entry>/",
            )
            continue
        key = (parts[1], parts[2])
        existed = _git(repo, "ls-tree", "-d", merge_base, f"{SUBMISSIONS_DIR}/{key[0]}/{key[1]}")
        if existed.strip():
            report.add(
                path,
                f"modifies the existing entry {key[0]}/{key[1]} ({status}); "
                "entries are changed only by their own pull requests",
            )
            continue
        if status != "A":
            report.add(path, f"unexpected change {status!r} in a new entry")
            continue
        added.add(key)
    if len(added) != 1 and report.ok:
        report.add(
            SUBMISSIONS_DIR,
            f"a pull request adds exactly one entry folder; this one adds {len(added)}",
        )
    return [repo / SUBMISSIONS_DIR / s / e for s, e in sorted(added)], report


def all_entries(root: Path) -> list[Path]:
    base = root / SUBMISSIONS_DIR
    if not base.is_dir():
        return []
    return sorted(
        p for suite in base.iterdir() if suite.is_dir() for p in suite.iterdir() if p.is_dir()
    )


def validate(
    entries: Sequence[Path] = (), *, base: str | None = None, repo: Path = Path(".")
) -> list[Report]:
    """Validate named entries, the entries a PR adds (``base``), or every committed entry."""
    reports: list[Report] = []
    targets: Iterable[Path] = entries
    if base is not None:
        found, pr_report = changed_entries(repo, base)
        reports.append(pr_report)
        targets = [*entries, *found]
    elif not entries:
        targets = all_entries(repo)
        if not targets:
            raise BenchmarkError(f"no entries found under {repo / SUBMISSIONS_DIR}")
    reports.extend(validate_entry(Path(t)) for t in targets)
    return reports


def format_reports(reports: Sequence[Report]) -> tuple[str, bool]:
    lines, ok = [], True
    for report in reports:
        if report.ok:
            lines.append(f"ok    {report.target}")
        else:
            ok = False
            lines.append(f"FAIL  {report.target}")
            lines.extend(f"      {problem}" for problem in report.problems)
    return "\n".join(lines), ok
