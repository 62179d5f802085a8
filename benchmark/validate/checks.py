"""``mllmcl-bench validate``: the checks a leaderboard pull request must pass.

Anyone can open such a pull request, so every check treats the entry as hostile: files are
inspected with ``lstat`` (symlinks are refused, never followed), types are sniffed from
their first bytes (not trusted from the extension) and JSON, JSON Lines and YAML files must
parse as what their extension says; YAML is read with the safe loader only, and nothing
from the entry is imported or executed. Metrics are recomputed by re-scoring the saved
predictions (the replay backend) and must equal those in ``results.json``.

Every problem is one line naming the file (relative to the entry) and what to fix; a check
that cannot be carried out on hostile input is itself reported as a problem, never a crash.
"""

from __future__ import annotations

import math
import re
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from benchmark.entry.predictions import PredictionsError, read_predictions
from benchmark.entry.results import Results, definitions_mismatch, load_results
from benchmark.entry.strict import hidden_character, loads_strict
from benchmark.entry.submission import (
    HF_URI,
    MARKUP,
    PREDICTIONS_DIR,
    RESULTS_FILE,
    SHA40,
    SUBMISSION_FILE,
    Submission,
    SubmissionError,
    load_submission,
    step_dir,
)
from benchmark.errors import BenchmarkError
from benchmark.evaluation.rescore import REPLAY
from benchmark.evaluation.run import evaluate_entry
from benchmark.metrics.definitions import metric_keys
from benchmark.metrics.reported import unknown_metrics
from benchmark.suites.prepare import records_path
from benchmark.suites.records import read_records
from benchmark.suites.registry import Suite, load_suite

SUBMISSIONS_DIR = "submissions"
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
# Checkpoint folders also hold a chat template (.jinja) and tokenizer vocabularies (.txt).
ALLOWED_SUFFIXES = {".yaml", ".yml", ".json", ".jsonl", ".md", ".safetensors", ".jinja", ".txt"}
MAX_FILE_BYTES = {".safetensors": 200 << 20, ".yaml": 1 << 20, ".yml": 1 << 20}
DEFAULT_MAX_FILE = 50 << 20
MAX_ENTRY_BYTES = 300 << 20
MAX_FILES = 2000
MAX_DEPTH = 4
TOLERANCE = 1e-9
# Bootstrap replicates a results.json may ask the re-check to draw (each one costs CI time).
MAX_BOOT = 10_000
# The backends that generate predictions; REPLAY re-scores saved ones.
GENERATING_BACKENDS = ("hf", "vllm")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
# Parts of results.json that must equal the values recomputed from the predictions.
RECOMPUTED = (
    "order",
    "matrix",
    "cells",
    "metrics",
    "probe_drops",
    "task_hashes",
    "metric_definitions",
    "bootstrap",
    "verified",
)
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


def _show(text: str, limit: int = 120) -> str:
    """Text from the entry as it may be printed: escaped unless plain ASCII, and cut short
    (:func:`benchmark.entry.strict.shown` is what every printed line gets)."""
    shown = text if text.isascii() and text.isprintable() else ascii(text)[1:-1]
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def _message(exc: BaseException, path: Path) -> str:
    """An error's message on one line, without the leading ``<path>:`` (the report names
    the file relative to the entry)."""
    text = " ".join(str(exc).split())
    prefix = f"{path}:"
    return text[len(prefix) :].strip() if text.startswith(prefix) else text


# --------------------------------------------------------------------------- files


def _yaml_error(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}: " if mark is not None else ""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"{where}invalid YAML ({problem})"


def _parse_problem(text: str, suffix: str) -> str | None:
    """JSON, JSON Lines and YAML files must parse as such (YAML with the safe loader)."""
    try:
        if suffix == ".json":
            loads_strict(text)
        elif suffix == ".jsonl":
            # split on "\n" only, as a file is read line by line (not str.splitlines)
            for number, line in enumerate(text.split("\n"), start=1):
                if line.strip():
                    try:
                        loads_strict(line)
                    except ValueError as exc:
                        return f"line {number}: invalid JSON ({exc})"
        elif suffix in (".yaml", ".yml"):
            yaml.safe_load(text)
    except RecursionError:
        return "is nested too deeply"
    except ValueError as exc:
        return f"invalid JSON ({exc})"
    except yaml.YAMLError as exc:
        return _yaml_error(exc)
    return None


def _sniff(path: Path, suffix: str) -> str | None:
    """What is wrong with a file's contents for its extension, or None."""
    with open(path, "rb") as handle:
        head = handle.read(16)
    for magic, what in MAGIC.items():
        if head.startswith(magic):
            return (
                f"is {what}; only YAML, JSON, JSONL, Markdown, text and safetensors "
                "files are allowed"
            )
    if suffix == ".safetensors":
        if len(head) < 9 or head[8:9] != b"{":
            return "is not a safetensors file (no JSON header)"
        return None
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return "is not UTF-8 text"
    return _parse_problem(text, suffix)


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
            if count > MAX_FILES:
                report.add(".", f"more than {MAX_FILES} files and folders")
                return
            if stat.S_ISLNK(info.st_mode):
                report.add(_show(rel), "is a symbolic link; entries may not contain links")
                continue
            if not SAFE_NAME.fullmatch(child.name) or child.name.startswith("."):
                report.add(
                    _show(rel),
                    "name must use only letters, digits, '.', '_' and '-' and not start "
                    "with '.' (no hidden or hard-to-see names)",
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


def _text_fields(value: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _text_fields(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _text_fields(item, f"{where}[{i}]")


def _check_submission(entry: Path, report: Report) -> Submission | None:
    """submission.yaml: schema, plain text in every field, names that match the folders."""
    path = entry / SUBMISSION_FILE
    try:
        submission = load_submission(entry)  # strict YAML, plain text (benchmark.entry.strict)
    except SubmissionError as exc:
        report.add(SUBMISSION_FILE, _message(exc, path))
        return None
    for where, text in _text_fields(submission.model_dump(), ""):
        found = hidden_character(text, multiline=where == "notes")
        if found:  # pragma: no cover - the schema refuses it already; kept as a second line
            report.add(
                SUBMISSION_FILE,
                f"field {where}: contains control or invisible characters ({found}); "
                "use plain text",
            )
        elif MARKUP.search(text):
            report.add(
                SUBMISSION_FILE, f"field {where}: looks like HTML or a script; use plain text"
            )
    reported = submission.reported
    for key in unknown_metrics(list(reported.metrics or {}) if reported is not None else []):
        report.add(
            SUBMISSION_FILE,
            f"field reported.metrics: unknown metric {_show(key)!r}; expected one of "
            f"{', '.join(metric_keys())}",
        )
    references = [("base_model.path", submission.base_model.path)]
    references += [(f"checkpoints[{i}].path", c.path) for i, c in enumerate(submission.checkpoints)]
    for where, reference in references:
        match = HF_URI.fullmatch(reference or "")
        subdir = match["subdir"] if match else None
        if subdir and any(part in ("", ".", "..") for part in subdir.split("/")):
            report.add(
                SUBMISSION_FILE,
                f"field {where}: the folder inside the hub repo must not contain '.', '..' or "
                "empty parts",
            )
    if entry.name != submission.name:
        report.add(
            SUBMISSION_FILE,
            f"field name: {submission.name!r} must equal the folder name {_show(entry.name)!r}",
        )
    if entry.parent.name != submission.suite and entry.parent.parent.name == SUBMISSIONS_DIR:
        report.add(
            SUBMISSION_FILE,
            f"field suite: {_show(submission.suite)!r} but the entry is under "
            f"submissions/{_show(entry.parent.name)}/",
        )
    return submission


def _check_registry(submission: Submission, report: Report) -> tuple[Suite, list[str]] | None:
    """The suite, its version, the order and the checkpoints' tasks, against the registry."""
    before = len(report.problems)
    try:
        suite = load_suite(submission.suite)
    except BenchmarkError as exc:
        report.add(SUBMISSION_FILE, f"field suite: {_show(str(exc), 300)}")
        return None
    if submission.suite_version != suite.version:
        report.add(
            SUBMISSION_FILE,
            f"field suite_version: {submission.suite_version}, but {suite.id} is version "
            f"{suite.version} (evaluate on the current version)",
        )
        return None
    try:
        order = suite.order(submission.order)
    except BenchmarkError as exc:
        report.add(SUBMISSION_FILE, f"field order: {_show(str(exc), 300)}")
        return None
    reported = submission.reported
    if reported is not None and reported.tasks is not None and reported.tasks != list(order):
        report.add(
            SUBMISSION_FILE,
            f"field reported.tasks: {_show(str(reported.tasks))}, but order "
            f"{submission.order!r} trains {', '.join(order)} (the paper's matrix must have "
            "this protocol's tasks, in this order)",
        )
    if submission.checkpoints:
        if len(submission.checkpoints) != len(order):
            report.add(
                SUBMISSION_FILE,
                f"field checkpoints: {len(submission.checkpoints)} checkpoints, but order "
                f"{submission.order!r} has {len(order)} steps ({', '.join(order)})",
            )
        else:
            for checkpoint, task in zip(submission.checkpoints, order, strict=True):
                if checkpoint.task != task:
                    report.add(
                        SUBMISSION_FILE,
                        f"field checkpoints[{checkpoint.step - 1}].task: "
                        f"{_show(checkpoint.task)!r}, but step {checkpoint.step} of order "
                        f"{submission.order!r} trains {task!r}",
                    )
    if len(report.problems) > before:
        return None
    return suite, suite.columns(submission.order)


def _whole(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _check_results(
    entry: Path, suite: Suite, columns: list[str], manifest: dict[str, Any], report: Report
) -> tuple[Results, dict[str, Any]] | None:
    """results.json: schema (strict JSON, finite and bounded numbers, plain text), suite and
    task hashes; the typed results and the claimed JSON."""
    before = len(report.problems)
    path = entry / RESULTS_FILE
    try:
        results = load_results(path)
        claimed = loads_strict(path.read_text(encoding="utf-8"))
    except SubmissionError as exc:
        report.add(RESULTS_FILE, _message(exc, path))
        return None
    boot = claimed["bootstrap"]
    if not _whole(boot.get("replicates"), 1, MAX_BOOT):
        report.add(
            RESULTS_FILE, f"field bootstrap.replicates: must be a whole number from 1 to {MAX_BOOT}"
        )
    if not _whole(boot.get("seed"), 0, 2**32 - 1):
        report.add(RESULTS_FILE, "field bootstrap.seed: must be a whole number from 0 to 2**32-1")
    if results.suite != suite.id or results.suite_version != suite.version:
        report.add(
            RESULTS_FILE,
            f"is for {_show(results.suite)} v{results.suite_version}, the entry for "
            f"{suite.id} v{suite.version}",
        )
    if [*results.tasks, *results.probes] != columns:
        report.add(
            RESULTS_FILE,
            f"field tasks: {_show(str(results.tasks + results.probes))} differ from the "
            f"suite's columns {columns}",
        )
        return None
    for task in columns:
        if results.task_hashes.get(task) != manifest["task_hashes"].get(task):
            report.add(
                RESULTS_FILE,
                f"task hash of {task!r} does not match the registry's data (evaluated on "
                "different records; re-evaluate on the current suite data)",
            )
    return (results, claimed) if len(report.problems) == before else None


def _check_provenance(submission: Submission, results: Results, report: Report) -> None:
    """What results.json says about the run that produced it, where it can be checked: a
    complete run, a known backend, what that backend records, and checkpoint hashes that
    agree with those submission.yaml declares. The rest is the submitter's word (the site
    says so for a self-reported entry)."""
    prov = results.provenance
    T = len(results.tasks)
    items = sum(cell.n for cell in results.cells)

    def problem(field: str, message: str) -> None:
        report.add(RESULTS_FILE, f"field provenance.{field}: {message}")

    if prov.limit is not None:
        problem(
            "limit",
            f"{prov.limit}, but an entry is evaluated on every item; evaluate without --limit",
        )
    if prov.backend not in (*GENERATING_BACKENDS, REPLAY):
        backends = ", ".join((*GENERATING_BACKENDS, REPLAY))
        problem("backend", f"{_show(prov.backend)!r} is not a backend ({backends})")
        return
    if prov.generated > items:
        problem("generated", f"{prov.generated} predictions, but the matrix has only {items} items")
    if submission.predictions_only and prov.backend != REPLAY:
        problem(
            "backend",
            f"{prov.backend!r}, but a predictions_only entry is scored by the replay backend "
            "(the harness cannot run its inference); evaluate with --backend replay",
        )
    if prov.backend == REPLAY or submission.predictions_only:
        # the replay backend re-scores saved predictions: it loads and generates nothing
        if prov.generated:
            problem(
                "generated",
                f"{prov.generated}, but the replay backend generates nothing (it re-scores "
                "the saved predictions)",
            )
        if prov.checkpoints:
            problem("checkpoints", "the replay backend loads no checkpoint, so it hashes none")
        for field in ("chat_template_sha256", "step_backends"):
            if getattr(prov, field) is not None:
                problem(field, "the replay backend loads no model, so it records none")
        if prov.trust_remote_code:
            problem("trust_remote_code", "the replay backend runs no model code")
        return
    if prov.chat_template_sha256 is not None and not SHA256.fullmatch(prov.chat_template_sha256):
        problem("chat_template_sha256", "must be a 64-character lowercase hex sha256")
    steps = [record.get("step") for record in prov.checkpoints]
    if steps != list(range(T + 1)) or any(isinstance(step, bool) for step in steps):
        problem("checkpoints", f"steps {_show(str(steps))}, expected one per step 0..{T}")
        return
    declared = {c.step: c for c in submission.checkpoints}
    for step, record in enumerate(prov.checkpoints):
        where = f"checkpoints[{step}]"
        kind = "base" if step == 0 else declared[step].kind if step in declared else None
        if kind is not None and record.get("kind") != kind:
            problem(f"{where}.kind", f"{_show(str(record.get('kind')))!r}, expected {kind!r}")
        digest = record.get("content_sha256")
        if not isinstance(digest, str) or not SHA256.fullmatch(digest):
            problem(f"{where}.content_sha256", "must be a 64-character lowercase hex sha256")
        elif step in declared and declared[step].sha256 not in (None, digest):
            problem(
                f"{where}.content_sha256",
                f"differs from the sha256 that submission.yaml declares for step {step}",
            )
    expected_steps = {str(step) for step in range(T + 1)}
    if prov.step_backends is not None and (
        set(prov.step_backends) != expected_steps
        or not set(prov.step_backends.values()) <= set(GENERATING_BACKENDS)
    ):
        problem(
            "step_backends",
            f"must name a backend ({', '.join(GENERATING_BACKENDS)}) for every step 0..{T}",
        )
    if prov.trust_remote_code:
        base = submission.base_model
        pinned = (base.path or "").startswith("hf://") or (
            base.path is None and base.revision is not None and SHA40.fullmatch(base.revision)
        )
        if not pinned:
            problem(
                "trust_remote_code",
                "the base model's own code ran, but submission.yaml does not pin the base to "
                "a hub commit",
            )


def _check_coverage(
    entry: Path, suite: Suite, columns: list[str], steps: int, report: Report
) -> None:
    """predictions/step-XX/<task>.jsonl: every uid of every cell exactly once, nothing else."""
    expected = {f"{PREDICTIONS_DIR}/{step_dir(s)}/{t}.jsonl" for s in range(steps) for t in columns}
    folder = entry / PREDICTIONS_DIR
    present = (
        {p.relative_to(entry).as_posix() for p in folder.rglob("*") if p.is_file()}
        if folder.is_dir()
        else set()
    )
    for extra in sorted(present - expected):
        report.add(
            extra,
            "is not a predictions file of this suite (expected "
            "predictions/step-XX/<task>.jsonl for steps 0..T)",
        )
    for task in columns:
        uids = [r.uid for r in read_records(records_path(suite.id, task))]
        wanted = set(uids)
        for s in range(steps):
            rel = f"{PREDICTIONS_DIR}/{step_dir(s)}/{task}.jsonl"
            try:
                saved = read_predictions(entry / rel)
            except (PredictionsError, ValueError) as exc:
                report.add(rel, _message(exc, entry / rel))
                continue
            missing = [u for u in uids if u not in saved]
            extra = [u for u in saved if u not in wanted]
            if missing:
                report.add(
                    rel,
                    f"{len(missing)} uid(s) of the suite have no prediction, "
                    f"e.g. {_show(missing[0])!r}",
                )
            if extra:
                report.add(
                    rel, f"{len(extra)} uid(s) are not in the suite, e.g. {_show(extra[0])!r}"
                )


def check_contents(entry: Path, report: Report) -> None:
    """Schema, registry, prediction coverage and recomputed metrics."""
    submission = _check_submission(entry, report)
    if submission is None:
        return
    found = _check_registry(submission, report)
    if found is None:
        return
    suite, columns = found
    from benchmark.suites.prepare import ensure_prepared

    try:
        manifest = ensure_prepared(suite)
    except BenchmarkError as exc:
        report.add(SUBMISSION_FILE, f"field suite: {exc}")
        return
    checked = _check_results(entry, suite, columns, manifest, report)
    if checked is None:
        return
    results, claimed = checked
    _check_provenance(submission, results, report)
    _check_coverage(entry, suite, columns, len(claimed["tasks"]) + 1, report)
    if not report.ok:
        return
    stale = definitions_mismatch(results.metric_definitions, entry)
    if stale is not None:  # every interval would differ: one line says why, not dozens
        report.add(RESULTS_FILE, stale)
        return
    boot = claimed["bootstrap"]
    with tempfile.TemporaryDirectory(prefix="mllmcl-validate-") as scratch:
        try:
            outcome = evaluate_entry(
                entry,
                backend=REPLAY,
                out_dir=Path(scratch),
                progress=False,
                n_boot=boot["replicates"],
                seed=boot["seed"],
            )
        except (BenchmarkError, ValueError) as exc:
            report.add(RESULTS_FILE, f"cannot be recomputed from the predictions: {exc}")
            return
    assert outcome.results is not None
    recomputed = outcome.results.model_dump(mode="json", by_alias=True)
    for part in RECOMPUTED:
        differences: list[str] = []
        _close(recomputed.get(part), claimed.get(part), part, differences)
        for where in differences[:5]:
            report.add(
                RESULTS_FILE, f"{where} differs from the value recomputed from the predictions"
            )
        if len(differences) > 5:
            report.add(RESULTS_FILE, f"{part}: {len(differences) - 5} more differences")


def _reported_only(entry: Path) -> bool:
    """Whether submission.yaml says ``reported_only: true`` (read with the safe loader, before
    its schema is checked, so that a reported-only entry's schema errors are reported as
    such); False when it cannot be read: the usual checks then report why."""
    try:
        data = yaml.safe_load((entry / SUBMISSION_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError):
        return False
    return isinstance(data, dict) and data.get("reported_only") is True


def check_reported_only(entry: Path, report: Report) -> None:
    """A paper's table (``reported_only: true``): submission.yaml alone, its schema (shape
    of the matrix, a source), the suite, version and order in the registry, and the paper's
    tasks equal to the order's. There is nothing to re-score."""
    for child in sorted(entry.iterdir()):
        if child.name != SUBMISSION_FILE:
            report.add(
                _show(child.name),
                "a reported_only entry holds submission.yaml only (a paper's numbers, with no "
                "checkpoints, predictions or results.json); remove it, or drop reported_only",
            )
    submission = _check_submission(entry, report)
    if submission is None:
        return
    _check_registry(submission, report)


def validate_entry(entry: Path) -> Report:
    """Every check of one entry folder; the report lists each problem on one line."""
    entry = Path(entry)
    report = Report(str(entry))
    if entry.is_symlink() or not entry.is_dir():
        report.add(str(entry), "is not an entry folder")
        return report
    try:
        check_files(entry, report)
        if not (entry / SUBMISSION_FILE).is_file():
            report.add(SUBMISSION_FILE, "missing")
        elif _reported_only(entry):
            if report.ok:
                check_reported_only(entry, report)
            return report
        if not (entry / RESULTS_FILE).is_file():
            report.add(RESULTS_FILE, "missing (run mllmcl-bench evaluate on the entry)")
        if report.ok:
            check_contents(entry, report)
    except (BenchmarkError, OSError, ValueError, ArithmeticError, RecursionError) as exc:
        # hostile input that a check could not digest is a failed check, not a crash
        report.add(".", f"could not be checked ({type(exc).__name__}: {_show(str(exc), 300)})")
    return report
