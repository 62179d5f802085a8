"""A paper's numbers → the metric table: stated values, values derived from a
lower-triangular matrix with the package's own code, and the reason for the rest."""

from __future__ import annotations

import math

import pytest

from benchmark.metrics import cl_metrics
from benchmark.metrics.reported import reported_metrics, unknown_metrics

FULL = [
    [30.0, 31.0, 32.0],
    [80.0, 40.0, 35.0],
    [70.0, 82.0, 45.0],
    [60.0, 75.0, 84.0],
]


def lower(matrix: list[list[float]]) -> list[list[float | None]]:
    """Row 0 kept, then only the cells on and below the diagonal (what papers print)."""
    return [matrix[0]] + [
        [v if j < i else None for j, v in enumerate(row)] for i, row in enumerate(matrix) if i
    ]


def test_a_lower_triangular_table_gives_what_it_can() -> None:
    full = cl_metrics(FULL)
    got = reported_metrics(lower(FULL), base_row=True)
    for key in ("last", "avg", "mft", "bwt", "forgetting", "zero_shot_gain"):
        assert got[key].origin == "matrix"
        assert got[key].value == pytest.approx(full[key]), key
    # fwt reads R[j-1][j], above the diagonal: not computable, and the page says why
    assert got["fwt"].value is None and got["fwt"].origin == ""
    assert got["fwt"].reason.startswith("not computable: needs R[1][2] (step 1, task 2)")


def test_stated_values_win_and_nothing_is_invented() -> None:
    got = reported_metrics(None, base_row=True, stated={"last": 53.0, "bwt": -14.97})
    assert (got["last"].value, got["last"].origin) == (53.0, "paper")
    assert got["bwt"].value == -14.97
    assert got["avg"].value is None and "gives no matrix" in got["avg"].reason
    stated = reported_metrics(lower(FULL), base_row=True, stated={"last": 1.0})
    assert stated["last"].value == 1.0 and stated["avg"].origin == "matrix"


def test_without_the_base_row() -> None:
    rows = [[math.nan] * 3, *lower(FULL)[1:]]
    got = reported_metrics([[None] * 3, *lower(FULL)[1:]], base_row=False)
    assert got["last"].value == pytest.approx(cl_metrics(rows)["last"])
    assert got["zero_shot_gain"].value is None
    assert "base model's row, which the paper's table does not give" in got["zero_shot_gain"].reason


def test_unknown_metric_names() -> None:
    assert unknown_metrics(["last", "ACC", "bwt", "mfn"]) == ["ACC", "mfn"]
