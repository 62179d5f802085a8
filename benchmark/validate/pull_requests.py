"""The pull-request side of validation: which entries a change adds, and the report."""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath

from benchmark.entry.strict import shown
from benchmark.errors import BenchmarkError
from benchmark.validate.checks import SUBMISSIONS_DIR, Report, _show, validate_entry

# --------------------------------------------------------------------------- pull requests


def _git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(repo), *args],
        capture_output=True,
        encoding="utf-8",
        errors="surrogateescape",
    )
    if result.returncode != 0:
        raise BenchmarkError(f"git {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


CHANGE = {"A": "adds a file to", "D": "deletes a file of", "M": "modifies", "T": "modifies"}


def changed_entries(repo: Path, base: str) -> tuple[list[Path], Report]:
    """The entry folders a pull request adds (against the merge base with ``base``)."""
    report = Report(f"changes since {base}")
    merge_base = _git(repo, "merge-base", base, "HEAD").strip()
    existing = {
        PurePosixPath(p).parts[1:3]
        for p in _git(
            repo, "ls-tree", "-r", "-z", "--name-only", merge_base, SUBMISSIONS_DIR
        ).split("\0")
        if len(PurePosixPath(p).parts) >= 4
    }
    # -z: paths verbatim (no quoting), each field ends with NUL: ":<modes> <shas> <status>", path
    fields = _git(repo, "diff", "--raw", "-z", "--no-renames", merge_base, "HEAD").split("\0")
    added: set[tuple[str, str]] = set()
    for meta, path in zip(fields[0::2], fields[1::2], strict=False):
        if not meta:
            continue
        _, new_mode, _, _, status = meta.lstrip(":").split()[:5]
        status = status[:1]
        shown = _show(path, 300)
        parts = PurePosixPath(path).parts
        if len(parts) < 4 or parts[0] != SUBMISSIONS_DIR:
            report.add(
                shown,
                "a leaderboard pull request may only add files inside its own entry folder "
                "submissions/<suite>/<entry>/",
            )
            continue
        key = (parts[1], parts[2])
        if key in existing:
            report.add(
                shown,
                f"{CHANGE.get(status, 'changes')} the existing entry {_show('/'.join(key))} "
                f"({status}); a pull request adds one new entry and changes no other",
            )
            continue
        if status != "A":
            report.add(shown, f"unexpected change {status!r} in a new entry")
            continue
        if new_mode in ("120000", "160000"):
            kind = "a symbolic link" if new_mode == "120000" else "a git submodule"
            report.add(shown, f"is {kind}; entries hold plain files only")
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
    """The report as printed: one line per entry and per problem, each starting with
    ``ok``, ``FAIL`` or spaces. Entry paths and messages come from the pull request, so what
    is not printable (a newline in a folder name) is escaped: nothing can start a line of
    its own, such as a CI workflow command (``::error::``) or a fake ``ok``."""
    lines, ok = [], True
    for report in reports:
        if report.ok:
            lines.append(f"ok    {shown(report.target)}")
        else:
            ok = False
            lines.append(f"FAIL  {shown(report.target)}")
            lines.extend(f"      {shown(problem)}" for problem in report.problems)
    return "\n".join(lines), ok
