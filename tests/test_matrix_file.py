"""Reading a user's matrix file (CSV / JSON) and the ``metrics`` report, from real files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from benchmark.metrics import METRIC_DEFINITIONS_VERSION, cl_metrics, metric_keys
from benchmark.metrics.matrix_file import load_matrix_file, metrics_report, read_matrix

KEYS = ["last", "avg", "mft", "bwt", "forgetting", "fwt", "zero_shot_gain"]

# T = 3 with base row (the hand-computed matrix of test_metrics.py)
FULL = [
    [20, 30, 10],
    [70, 40, 15],
    [75, 80, 25],
    [65, 50, 90],
]
EXPECTED = {
    "last": 205 / 3,
    "avg": (70 + 77.5 + 205 / 3) / 3,
    "mft": 80.0,
    "bwt": -17.5,
    "forgetting": 20.0,
    "fwt": 12.5,
    "zero_shot_gain": 145 / 3,
}


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def csv_text(rows: list[list[object]]) -> str:
    return "".join(",".join("" if v is None else str(v) for v in row) + "\n" for row in rows)


def same(a: np.ndarray, b: object) -> bool:
    return np.array_equal(a, np.array(b, dtype=float), equal_nan=True)


# --------------------------------------------------------------------------- CSV


def test_csv_full(tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", csv_text(FULL))
    assert same(read_matrix(path), FULL)
    out = json.loads(metrics_report(path, as_json=True))
    assert out == pytest.approx(EXPECTED)


def test_csv_lower_triangle_with_empty_cells(tmp_path: Path) -> None:
    # what peers publish: T x T, no base row, the upper triangle left empty
    text = "70,,\n75,80,\n65,50,90\n"
    path = write(tmp_path, "lower.csv", text)
    assert same(read_matrix(path), [[70, None, None], [75, 80, None], [65, 50, 90]])
    out = json.loads(metrics_report(path, base_row=False, as_json=True))
    for name in ("last", "avg", "mft", "bwt", "forgetting"):
        assert out[name] == pytest.approx(EXPECTED[name])
    assert out["fwt"] is None and out["zero_shot_gain"] is None


def test_csv_lower_triangle_with_base_row(tmp_path: Path) -> None:
    # base row complete, upper triangle empty: fwt needs R[1][2], which is missing
    path = write(tmp_path, "m.csv", "20,30,10\n70,,\n75,80,\n65,50,90\n")
    out = json.loads(metrics_report(path, as_json=True))
    assert out["fwt"] is None
    assert out["zero_shot_gain"] == pytest.approx(EXPECTED["zero_shot_gain"])
    text = metrics_report(path)
    assert "fwt" in text and "needs R[1][2] (step 1, task 2) and R[2][3], which are missing" in text


@pytest.mark.parametrize(
    "text",
    [
        # a header row of task names
        "rs,med,ad\n20,30,10\n70,40,15\n75,80,25\n65,50,90\n",
        # header with an empty first cell over an index column (pandas to_csv)
        ",rs,med,ad\n0,20,30,10\n1,70,40,15\n2,75,80,25\n3,65,50,90\n",
        # header naming the index column
        "step,rs,med,ad\n0,20,30,10\n1,70,40,15\n2,75,80,25\n3,65,50,90\n",
        # header one cell shorter than the rows: the first column is the index
        "rs,med,ad\n0,20,30,10\n1,70,40,15\n2,75,80,25\n3,65,50,90\n",
        # no header, step labels that are not numbers
        "base,20,30,10\nafter rs,70,40,15\nafter med,75,80,25\nafter ad,65,50,90\n",
        # spaces, a byte-order mark, a comment, blank lines and Windows line ends
        "\ufeff# from our paper, table 3\r\n rs , med , ad \r\n\r\n20, 30, 10\r\n70,40,15\r\n"
        "75,80,25\r\n65,50,90\r\n\r\n",
    ],
    ids=["header", "pandas-index", "step-index", "short-header", "labels", "messy"],
)
def test_csv_header_and_index_detected(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, "m.csv", text)
    assert same(read_matrix(path), FULL)
    assert json.loads(metrics_report(path, as_json=True)) == pytest.approx(EXPECTED)


def test_csv_task_names_shown(tmp_path: Path) -> None:
    path = write(
        tmp_path, "m.csv", "step,rs,med,ad\n0,20,30,10\n1,70,40,15\n2,75,80,25\n3,65,50,90\n"
    )
    mf = load_matrix_file(path)
    assert mf.tasks == ["rs", "med", "ad"] and mf.steps == ["0", "1", "2", "3"]
    assert "rs" in metrics_report(path).splitlines()[2]


def test_csv_missing_markers(tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", "20,NA,nan\n70,-,null\n75,80,\n65,50,90\n")
    m = read_matrix(path)
    assert np.isnan(m[:2, 1:]).all() and m[3, 2] == 90


def test_csv_ragged_names_the_row(tmp_path: Path) -> None:
    path = write(tmp_path, "ragged.csv", "20,30,10\n70,40\n75,80,25\n65,50,90\n")
    with pytest.raises(
        ValueError, match=r"ragged.csv: row 2 has 2 cells, expected 3 \(as in row 1\)"
    ):
        read_matrix(path)


def test_csv_non_number_names_the_cell(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.csv", "20,30,10\n70,40,15\n75,8O,25\n65,50,90\n")
    with pytest.raises(ValueError, match=r"bad.csv: row 3, column 2: '8O' is not a number"):
        read_matrix(path)
    # with an index column and a header, the column is still the file's column
    path = write(tmp_path, "bad2.csv", "step,a,b\n0,1,2\n1,3,x\n2,5,6\n")
    with pytest.raises(ValueError, match=r"row 3, column 3: 'x' is not a number"):
        read_matrix(path)
    for cell in ("inf", "1_000"):
        path = write(tmp_path, "bad3.csv", f"20,30\n70,{cell}\n75,80\n")
        with pytest.raises(ValueError, match=rf"row 2, column 2: '{cell}' is not a number"):
            read_matrix(path)


def test_csv_header_too_long(tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", "a,b,c,d\n20,30\n70,40\n75,80\n")
    with pytest.raises(ValueError, match=r"the header \(row 1\) has 4 cells but row 2 has 2"):
        read_matrix(path)


def test_csv_empty(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no rows"):
        read_matrix(write(tmp_path, "m.csv", "\n# nothing\n"))
    with pytest.raises(ValueError, match="only a header row"):
        read_matrix(write(tmp_path, "m.csv", "rs,med\n"))


# --------------------------------------------------------------------------- JSON


def test_json_list_with_nulls(tmp_path: Path) -> None:
    data = [[20, 30, 10], [70, None, None], [75, 80, None], [65, 50, 90]]
    path = write(tmp_path, "m.json", json.dumps(data))
    assert same(read_matrix(path), data)
    out = json.loads(metrics_report(path, as_json=True))
    assert out["fwt"] is None and out["last"] == pytest.approx(EXPECTED["last"])


def test_json_object_with_matrix(tmp_path: Path) -> None:
    path = write(tmp_path, "m.json", json.dumps({"matrix": FULL, "tasks": ["rs", "med", "ad"]}))
    assert same(read_matrix(path), FULL)
    assert load_matrix_file(path).tasks == ["rs", "med", "ad"]


def test_json_results_file_leaves_probes_out(tmp_path: Path) -> None:
    # a results.json written by the harness: task columns, then probe columns
    matrix = [[*row, 50.0] for row in FULL]
    results = {"tasks": ["rs", "med", "ad"], "probes": ["mmbench"], "matrix": matrix}
    path = write(tmp_path, "results.json", json.dumps(results))
    assert same(read_matrix(path), FULL)


def test_json_ragged_names_the_row(tmp_path: Path) -> None:
    path = write(tmp_path, "m.json", json.dumps([[1, 2], [3, 4], [5]]))
    with pytest.raises(ValueError, match=r"m.json: row 3 has 1 values, expected 2 \(as in row 1\)"):
        read_matrix(path)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([[1, 2], [3, "4"]], r"row 2, column 2: '4' is not a number"),
        ([[1, 2], [True, 4]], r"row 2, column 1: True is not a number"),
        ([[1, 2], 3], r"row 2 is not a list"),
        ([], "non-empty list of rows"),
        ({"rows": [[1]]}, r'needs a "matrix" key .* found keys rows'),
        ([[], []], "the rows are empty"),
    ],
)
def test_json_invalid(tmp_path: Path, data: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read_matrix(write(tmp_path, "m.json", json.dumps(data)))


def test_json_not_json(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"m.json: not valid JSON \(line 1, column"):
        read_matrix(write(tmp_path, "m.json", "[[1, 2], [3, 4]"))
    with pytest.raises(ValueError, match="Infinity is not an accuracy"):
        read_matrix(write(tmp_path, "m.json", "[[1, Infinity]]"))


# --------------------------------------------------------------------------- files, report


def test_wrong_extension_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"m.txt: unsupported file type '.txt'; expected a .csv"):
        read_matrix(write(tmp_path, "m.txt", "1,2\n"))
    with pytest.raises(FileNotFoundError, match=r"nope\.csv: no such file"):
        read_matrix(tmp_path / "nope.csv")


def test_no_base_row_semantics(tmp_path: Path) -> None:
    path = write(tmp_path, "steps.csv", csv_text(FULL[1:]))  # 3 x 3: steps 1..3 only
    out = json.loads(metrics_report(path, base_row=False, as_json=True))
    assert out == pytest.approx({**EXPECTED, "fwt": None, "zero_shot_gain": None})
    # read as if its first row were the base model, the shape is wrong: say so, and how
    with pytest.raises(
        ValueError, match=r"steps.csv: the matrix has shape \(3, 3\); .*no-base-row"
    ):
        metrics_report(path)
    # and a (T+1) x T file read with --no-base-row
    with pytest.raises(ValueError, match=r"shape \(4, 3\); .*use base_row=True"):
        metrics_report(write(tmp_path, "full.csv", csv_text(FULL)), base_row=False)


def test_out_of_range_names_the_file_cell(tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", "step,a,b\n0,20,30\n1,70,140\n2,75,80\n")
    with pytest.raises(ValueError, match=r"m.csv: row 3, column 3: 140.0 is outside \[0, 100\]"):
        metrics_report(path)


def test_json_output_exact_keys(tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", "40\n70\n")  # T = 1
    text = metrics_report(path, as_json=True)
    assert list(json.loads(text)) == KEYS == list(metric_keys())
    assert text == json.dumps(
        {
            "last": 70.0,
            "avg": 70.0,
            "mft": 70.0,
            "bwt": None,
            "forgetting": None,
            "fwt": None,
            "zero_shot_gain": 30.0,
        }
    )
    assert "null" in text and "NaN" not in text


def test_json_output_full_precision(tmp_path: Path) -> None:
    path = write(tmp_path, "m.json", json.dumps(FULL))
    out = json.loads(metrics_report(path, as_json=True))
    assert out == cl_metrics(FULL)  # not rounded


def test_text_report(tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", "rs,med\n40,30\n70,\n60,90\n")
    text = metrics_report(path)
    lines = text.splitlines()
    assert lines[0] == f"{path}: 3 rows x 2 tasks = base model + T = 2 steps"
    assert "(1 of 6 cells missing)" in text
    rows = {line.split()[0]: line for line in lines if line.split() and line.split()[0] in KEYS}
    assert list(rows) == KEYS
    assert "75.00" in rows["last"] and "-10.00" in rows["bwt"]  # 60 - 70
    assert "undefined: needs R[1][2] (step 1, task 2), which is missing" in rows["fwt"]
    # aligned: every value ends in the same column
    ends = {line.index(line.split()[1]) + len(line.split()[1]) for line in rows.values()}
    assert len(ends) == 1
    assert lines[-1] == f"metric definitions version {METRIC_DEFINITIONS_VERSION}"


def test_text_report_fraction_hint(tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", "0.4,0.3\n0.7,0.2\n0.6,0.9\n")
    assert "at most 1; the metrics expect percentages" in metrics_report(path)


def test_cli_metrics(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from benchmark.cli import main

    path = write(tmp_path, "m.csv", csv_text(FULL))
    assert main(["metrics", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == pytest.approx(EXPECTED)
    assert main(["metrics", str(path), "--no-base-row"]) == 2
    assert "no-base-row" not in capsys.readouterr().out
    bad = write(tmp_path, "bad.csv", "1,2\n3\n")
    assert main(["metrics", str(bad)]) == 2
    assert "row 2 has 1 cells" in capsys.readouterr().err


def test_nan_cells_read_as_nan_not_zero(tmp_path: Path) -> None:
    m = read_matrix(write(tmp_path, "m.csv", "1,\n2,3\n4,5\n"))
    assert math.isnan(m[0, 1]) and m[0, 0] == 1.0


# --------------------------------------------------------------------------- issue 20


def test_csv_rows_follow_their_step_labels(tmp_path: Path) -> None:
    """Rows labelled 2, 0, 1: read by label (last 50, bwt -10), not in file order (40, +40)."""
    path = write(tmp_path, "m.csv", "step,t1,t2\n2,50,50\n0,20,30\n1,60,20\n")
    assert same(read_matrix(path), [[20, 30], [60, 20], [50, 50]])
    out = json.loads(metrics_report(path, as_json=True))
    assert out["last"] == pytest.approx(50.0) and out["bwt"] == pytest.approx(-10.0)
    assert load_matrix_file(path).steps == ["0", "1", "2"]
    labelled = write(tmp_path, "s.csv", "step 1,70,\nstep 0,20,30\nstep 2,65,50\n")
    assert same(read_matrix(labelled), [[20, 30], [70, None], [65, 50]])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("step,a,b\n0,1,2\n1,3,4\n1,5,6\n", "row 4: step 1 appears twice (also row 3)"),
        ("step,a,b\n0,1,2\n1,3,4\n3,5,6\n", "step labels 0, 1, 3 skip a step"),
    ],
    ids=["duplicate", "gap"],
)
def test_csv_bad_step_labels_are_refused(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, "m.csv", text)
    with pytest.raises(ValueError) as info:
        read_matrix(path)
    assert str(info.value).startswith(f"{path}: {message}")


def test_json_nan_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "m.json", "[[20, 30], [NaN, 40], [70, 50]]")
    with pytest.raises(ValueError) as info:
        read_matrix(path)
    assert str(info.value).startswith(f"{path}: NaN is not an accuracy")
    assert "null" in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"matrix": [[1, 2]], "matrix": [[3, 4], [5, 6]]}', "duplicate key 'matrix'"),
        ("[[1, 2], [3, " + "9" * 400 + "]]", "row 2, column 2"),
        ("[[1, 2], [3, 1e999]]", "row 2, column 2"),
    ],
    ids=["deep", "duplicate-key", "huge-integer", "overflow"],
)
def test_hostile_json_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    from benchmark.cli import main

    path = write(tmp_path, "m.json", text)
    assert main(["metrics", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"mllmcl-bench: error: {path}: ") and message in err
    assert err.count("\n") == 1


@pytest.mark.parametrize("name", ["m.csv", "m.json"])
def test_not_utf8_names_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    from benchmark.cli import main

    path = tmp_path / name
    path.write_bytes(b"\xff\xfe1,2\n")
    assert main(["metrics", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"mllmcl-bench: error: {path}: not UTF-8 text"), err


def test_unreadable_csv_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from benchmark.cli import main

    path = write(tmp_path, "m.csv", "1,2\n" + '"' + "x" * 200_000 + '",3\n')
    assert main(["metrics", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"mllmcl-bench: error: {path}: line 2: not CSV (field larger"), err
