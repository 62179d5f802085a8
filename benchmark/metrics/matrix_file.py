"""A user's accuracy matrix from a file, and its metrics as text or JSON.

Backs ``mllmcl-bench metrics MATRIX.(csv|json) [--no-base-row] [--json]``: researchers with
their own evaluation get the standard numbers (definitions in :mod:`benchmark.metrics`).

Accepted files:

``.csv``
    Plain numbers separated by commas, one row per step. Optional, detected: a header row
    of task names (a first row with no number in it), and an index column of step labels
    (when the header's first cell is empty or a label such as ``step``, when the header is
    one cell shorter than the rows, or when no row starts with a number). When every step
    label is a step number (``2``, ``step 2``, ``step-2``; ``base`` is 0), rows are put in
    the order of their labels, and a label given twice or a skipped step is an error;
    other labels (``after rs``) leave the rows in file order. Missing cells are empty
    (also accepted: ``nan``, ``NA``, ``n/a``, ``null``, ``none``, ``-``). Blank lines and
    lines starting with ``#`` are skipped.
``.json``
    A list of rows (lists of numbers, ``null`` where missing), or an object with such a
    list under ``"matrix"`` (and optionally ``"tasks"``). A ``results.json`` written by the
    harness works too: its probe columns are left out. ``NaN`` and duplicate keys are
    refused (write ``null`` where a value is missing).

Errors are ``ValueError`` naming the file and the row and column (for CSV the line of the
file; for JSON the 1-based position in the matrix), on one line.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmark._strict_json import unique_keys
from benchmark.metrics.definitions import (
    METRIC_DEFINITIONS_VERSION,
    MetricValue,
    cl_metrics_explained,
    metric_keys,
    metric_table,
)

__all__ = ["MatrixFile", "load_matrix_file", "metrics_report", "read_matrix"]

MISSING = frozenset({"", "nan", "na", "n/a", "null", "none", "-", "—", "–"})
"""Cell texts (lower-cased) read as a missing cell in a CSV file."""

INDEX_LABELS = frozenset(
    {"", "step", "steps", "stage", "row", "index", "idx", "model", "checkpoint", "after"}
)
"""Header texts (lower-cased) of a first column that holds step labels, not a task."""

STEP_LABEL = re.compile(r"(?:step[\s_-]*)?(\d{1,6})", re.IGNORECASE)
"""A step label that names a step number: ``2``, ``step 2``, ``step-2``, ``Step_2``."""


@dataclass
class MatrixFile:
    """A matrix as read from a file, with where each cell came from."""

    path: Path
    matrix: np.ndarray
    tasks: list[str] | None = None
    steps: list[str] | None = None
    #: file coordinates of matrix cell (r, c): row labels and column labels as a user sees them
    row_labels: list[str] = field(default_factory=list)
    col_labels: list[str] = field(default_factory=list)

    def where(self, r: int, c: int) -> str:
        """``row X, column Y`` of matrix cell (r, c), 0-based, in the file's terms."""
        return f"{self.row_labels[r]}, {self.col_labels[c]}"


def _number(text: str) -> float | None:
    """A cell as a float (NaN if missing), or None if it is not a number."""
    if text.lower() in MISSING:
        return math.nan
    if "_" in text:  # float() takes "1_0"; a matrix file should not
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _step_number(label: str) -> int | None:
    if label.lower() in ("base", "base model"):
        return 0
    match = STEP_LABEL.fullmatch(label)
    return int(match[1]) if match else None


def _by_step_label(path: Path, lines: list[tuple[int, list[str]]]) -> list[tuple[int, list[str]]]:
    """Rows in the order of their step labels when every label is a step number."""
    numbers = [_step_number(cells[0]) for _, cells in lines]
    if any(n is None for n in numbers):
        return lines  # labels such as "after rs": the file's order is the order
    first_row: dict[int, int] = {}
    for (line, _), number in zip(lines, numbers, strict=True):
        assert number is not None
        if number in first_row:
            raise ValueError(
                f"{path}: row {line}: step {number} appears twice (also row {first_row[number]})"
            )
        first_row[number] = line
    steps = sorted(first_row)
    if steps != list(range(steps[0], steps[0] + len(steps))):
        raise ValueError(
            f"{path}: step labels {', '.join(map(str, steps))} skip a step; give every step "
            "a row (leave its cells empty where values are missing)"
        )
    order = sorted(range(len(lines)), key=lambda i: numbers[i] or 0)
    return [lines[i] for i in order]


def _read_text(path: Path) -> str:
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            return handle.read()
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ValueError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def _read_csv(path: Path) -> MatrixFile:
    reader = csv.reader(io.StringIO(_read_text(path), newline=""))
    lines: list[tuple[int, list[str]]] = []
    try:
        for cells in reader:
            stripped = [c.strip() for c in cells]
            if not stripped or stripped == [""] or stripped[0].startswith("#"):
                continue
            lines.append((reader.line_num, stripped))
    except csv.Error as exc:
        raise ValueError(f"{path}: line {reader.line_num}: not CSV ({exc})") from None
    if not lines:
        raise ValueError(f"{path}: no rows")

    header: list[str] | None = None
    first_line, first = lines[0]
    nonempty = [c for c in first if c]
    if nonempty and all(_number(c) is None for c in nonempty):
        header = first
        lines = lines[1:]
        if not lines:
            raise ValueError(f"{path}: only a header row (line {first_line}), no numbers")

    width = len(lines[0][1])
    index = False
    if header is not None:
        if len(header) == width - 1:
            header = ["", *header]
            index = True
        elif len(header) != width:
            raise ValueError(
                f"{path}: the header (row {first_line}) has {len(header)} cells but row "
                f"{lines[0][0]} has {width}"
            )
        elif header[0].lower() in INDEX_LABELS:
            index = True
    for line, cells in lines:
        if len(cells) != width:
            raise ValueError(
                f"{path}: row {line} has {len(cells)} cells, expected {width} (as in row "
                f"{lines[0][0]}); write an empty cell for each missing value"
            )
    if not index and width > 1 and all(_number(cells[0]) is None for _, cells in lines):
        index = True
    if index:
        lines = _by_step_label(path, lines)

    skip = 1 if index else 0
    if width - skip < 1:
        raise ValueError(f"{path}: no columns of numbers")
    matrix = np.empty((len(lines), width - skip))
    for r, (line, cells) in enumerate(lines):
        for c, text in enumerate(cells[skip:]):
            value = _number(text)
            if value is None or math.isinf(value):
                raise ValueError(
                    f"{path}: row {line}, column {c + skip + 1}: {text!r} is not a number "
                    "(leave the cell empty where a value is missing)"
                )
            matrix[r, c] = value
    tasks = None
    if header is not None:
        tasks = header[skip:]
    return MatrixFile(
        path=path,
        matrix=matrix,
        tasks=tasks,
        steps=[cells[0] for _, cells in lines] if index else None,
        row_labels=[f"row {line}" for line, _ in lines],
        col_labels=[f"column {c + skip + 1}" for c in range(width - skip)],
    )


def _reject_constant(name: str) -> float:
    if name == "NaN":
        raise ValueError("NaN is not an accuracy; write null where a value is missing")
    raise ValueError(f"{name} is not an accuracy")


def _read_json(path: Path) -> MatrixFile:
    text = _read_text(path)
    try:
        data = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=unique_keys)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    except RecursionError:
        raise ValueError(f"{path}: nested too deeply to be a matrix") from None
    except ValueError as exc:
        raise ValueError(f"{path}: {' '.join(str(exc).split())}") from None
    tasks: list[str] | None = None
    keep: int | None = None
    if isinstance(data, dict):
        if "matrix" not in data:
            raise ValueError(
                f'{path}: a JSON object needs a "matrix" key holding a list of rows; '
                f"found keys {', '.join(map(str, data)) or 'none'}"
            )
        names = data.get("tasks")
        if isinstance(names, list) and all(isinstance(n, str) for n in names):
            tasks = list(names)
            probes = data.get("probes")
            if isinstance(probes, list) and probes:  # a results.json: leave probes out
                keep = len(tasks)
        data = data["matrix"]
    if not isinstance(data, list) or not data:
        raise ValueError(f"{path}: expected a non-empty list of rows (lists of numbers)")
    width: int | None = None
    rows: list[list[float]] = []
    for r, row in enumerate(data, start=1):
        if not isinstance(row, list):
            raise ValueError(f"{path}: row {r} is not a list of numbers: {row!r}")
        if width is None:
            width = len(row)
        elif len(row) != width:
            raise ValueError(
                f"{path}: row {r} has {len(row)} values, expected {width} (as in row 1); "
                "write null for each missing value"
            )
        values = []
        for c, value in enumerate(row, start=1):
            if value is None:
                values.append(math.nan)
            elif isinstance(value, int | float) and not isinstance(value, bool):
                if not -1e300 < value < 1e300:  # also 1e999 (inf), and integers no float holds
                    raise ValueError(
                        f"{path}: row {r}, column {c}: a number outside [0, 100] (accuracies "
                        "are percentages)"
                    )
                values.append(float(value))
            else:
                raise ValueError(
                    f"{path}: row {r}, column {c}: {value!r} is not a number (use null "
                    "where a value is missing)"
                )
        rows.append(values)
    matrix = np.array(rows, dtype=float).reshape(len(rows), width or 0)
    if keep is not None and tasks is not None and keep < matrix.shape[1]:
        matrix = matrix[:, :keep]
    if matrix.shape[1] < 1:
        raise ValueError(f"{path}: the rows are empty")
    if tasks is not None and len(tasks) != matrix.shape[1]:
        tasks = None
    return MatrixFile(
        path=path,
        matrix=matrix,
        tasks=tasks,
        row_labels=[f"row {r}" for r in range(1, matrix.shape[0] + 1)],
        col_labels=[f"column {c}" for c in range(1, matrix.shape[1] + 1)],
    )


def load_matrix_file(path: str | os.PathLike[str]) -> MatrixFile:
    """Read a ``.csv`` or ``.json`` matrix file, keeping task names and cell locations."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise ValueError(
            f"{path}: unsupported file type {path.suffix or '(no extension)'!r}; "
            "expected a .csv or .json matrix"
        )
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    return _read_csv(path) if suffix == ".csv" else _read_json(path)


def read_matrix(path: str | os.PathLike[str]) -> np.ndarray:
    """The accuracy matrix in a ``.csv`` or ``.json`` file; NaN where a cell is missing.

    Shape and range are not checked here (they depend on ``base_row``): see
    :func:`benchmark.metrics.cl_metrics`. Raises ValueError naming the file, row and
    column on unreadable input.
    """
    return load_matrix_file(path).matrix


def _explained(mf: MatrixFile, base_row: bool) -> dict[str, MetricValue]:
    bad = ~np.isnan(mf.matrix) & ~((mf.matrix >= 0) & (mf.matrix <= 100))
    if bad.any():
        r, c = (int(x) for x in np.argwhere(bad)[0])
        raise ValueError(
            f"{mf.path}: {mf.where(r, c)}: {float(mf.matrix[r, c])!r} is outside [0, 100] "
            "(accuracies are percentages)"
        )
    try:
        return cl_metrics_explained(mf.matrix, base_row=base_row)
    except ValueError as exc:
        message = str(exc).replace("R has shape", "the matrix has shape")
        raise ValueError(f"{mf.path}: {message}") from None


def _fmt(value: float, width: int, digits: int) -> str:
    return ("—" if math.isnan(value) else f"{value:.{digits}f}").rjust(width)


def metrics_report(
    path: str | os.PathLike[str], *, base_row: bool = True, as_json: bool = False
) -> str:
    """The metrics of the matrix in ``path``, as the ``metrics`` subcommand prints them.

    ``as_json``: one JSON object with exactly the keys of
    :func:`benchmark.metrics.metric_keys`, in that order, null where undefined. Otherwise a
    table: the matrix as read, every metric with what it means, and for each undefined
    metric the reason.
    """
    mf = load_matrix_file(path)
    explained = _explained(mf, base_row)
    if as_json:
        return json.dumps({name: explained[name].value for name in metric_keys()})

    n_rows, T = mf.matrix.shape
    lines = [
        f"{mf.path}: {n_rows} rows x {T} tasks = "
        + (f"base model + T = {T} steps" if base_row else f"T = {T} steps (no base-model row)")
    ]
    names = mf.tasks or [f"task {j}" for j in range(1, T + 1)]
    width = max(6, *(len(n) for n in names))
    first_step = 0 if base_row else 1
    lines.append("")
    lines.append("step  " + " ".join(n.rjust(width) for n in names))
    for r, row in enumerate(mf.matrix):
        label = f"{r + first_step:>4}"
        lines.append(f"{label}  " + " ".join(_fmt(v, width, 2) for v in row))
    missing = int(np.isnan(mf.matrix).sum())
    if missing:
        lines.append(f"({missing} of {mf.matrix.size} cells missing)")
    finite = mf.matrix[~np.isnan(mf.matrix)]
    if finite.size and finite.max() <= 1 and finite.max() > 0:
        lines.append("note: every value is at most 1; the metrics expect percentages (0-100)")

    lines.append("")
    name_width = max(len(n) for n in metric_keys())
    lines.append(f"{'metric'.ljust(name_width)}  {'value'.rjust(8)}  meaning")
    for d in metric_table():
        m = explained[d.key]
        value = "—" if m.value is None else f"{m.value:.2f}"
        note = d.summary if m.value is not None else f"undefined: {m.reason}"
        lines.append(f"{d.key.ljust(name_width)}  {value.rjust(8)}  {note}")
    lines.append("")
    lines.append(f"metric definitions version {METRIC_DEFINITIONS_VERSION}")
    return "\n".join(lines)
