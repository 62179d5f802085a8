"""The CL metrics, their intervals, paired tests and rank groups.

Matrices are written out with the arithmetic of every metric in comments. Notation as in
DESIGN.md: R[i][j], step i (0 = base model), task j counted from 1.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import ndtri

from benchmark.metrics import (
    METRIC_DEFINITIONS_VERSION,
    Interval,
    MetricValue,
    bootstrap_matrices,
    bootstrap_metrics,
    cl_metrics,
    cl_metrics_explained,
    definition,
    metric_arrays,
    metric_keys,
    paired_test,
    probe_drops,
    rank_groups,
)

KEYS = ["last", "avg", "mft", "bwt", "forgetting", "fwt", "zero_shot_gain"]


def approx(expected: dict[str, float | None]) -> dict[str, object]:
    return {k: None if v is None else pytest.approx(v, abs=1e-9) for k, v in expected.items()}


# --------------------------------------------------------------------------- hand-computed

# T = 2, with base row (3 x 2)
R_T2 = [
    [40, 30],  # step 0 (base model)
    [80, 50],  # after task 1
    [60, 90],  # after task 2
]
EXPECTED_T2 = {
    "last": 75.0,  # (60 + 90) / 2
    "avg": 77.5,  # (80 + (60 + 90) / 2) / 2 = (80 + 75) / 2
    "mft": 85.0,  # (R[1][1] + R[2][2]) / 2 = (80 + 90) / 2
    "bwt": -20.0,  # R[2][1] - R[1][1] = 60 - 80
    "forgetting": 20.0,  # max(R[1][1]) - R[2][1] = 80 - 60
    "fwt": 20.0,  # R[1][2] - R[0][2] = 50 - 30
    "zero_shot_gain": 40.0,  # ((60 - 40) + (90 - 30)) / 2 = (20 + 60) / 2
}

# T = 3, with base row (4 x 3); task 1 improves at step 2 (75 > 70), so the best earlier
# accuracy for forgetting is not the diagonal one.
R_T3 = [
    [20, 30, 10],  # step 0
    [70, 40, 15],  # after task 1
    [75, 80, 25],  # after task 2
    [65, 50, 90],  # after task 3
]
EXPECTED_T3 = {
    "last": 205 / 3,  # (65 + 50 + 90) / 3 = 68.333…
    # (70 + (75 + 80)/2 + (65 + 50 + 90)/3) / 3 = (70 + 77.5 + 68.333…) / 3 = 71.944…
    "avg": (70 + 77.5 + 205 / 3) / 3,
    "mft": 80.0,  # (70 + 80 + 90) / 3
    "bwt": -17.5,  # ((65 - 70) + (50 - 80)) / 2 = (-5 - 30) / 2
    "forgetting": 20.0,  # task 1: max(70, 75) - 65 = 10; task 2: 80 - 50 = 30; (10 + 30) / 2
    "fwt": 12.5,  # ((R[1][2] - R[0][2]) + (R[2][3] - R[0][3])) / 2 = ((40-30) + (25-10)) / 2
    "zero_shot_gain": 145 / 3,  # ((65-20) + (50-30) + (90-10)) / 3 = (45 + 20 + 80) / 3
}

# T = 4, no base row (4 x 4): accuracy on old tasks rises at times, so bwt > 0 and two
# tasks have negative forgetting.
R_T4_NO_BASE = [
    [50, 10, 10, 10],  # after task 1
    [60, 70, 20, 10],  # after task 2
    [65, 72, 40, 30],  # after task 3
    [70, 60, 45, 80],  # after task 4
]
EXPECTED_T4_NO_BASE = {
    "last": 63.75,  # (70 + 60 + 45 + 80) / 4 = 255 / 4
    # (50 + (60+70)/2 + (65+72+40)/3 + 255/4) / 4 = (50 + 65 + 59 + 63.75) / 4 = 237.75 / 4
    "avg": 59.4375,
    "mft": 60.0,  # (50 + 70 + 40 + 80) / 4
    "bwt": 5.0,  # ((70-50) + (60-70) + (45-40)) / 3 = (20 - 10 + 5) / 3
    # task 1: max(50, 60, 65) - 70 = -5; task 2: max(70, 72) - 60 = 12; task 3: 40 - 45 = -5
    "forgetting": 2 / 3,  # (-5 + 12 - 5) / 3
    "fwt": None,  # needs the base row
    "zero_shot_gain": None,  # needs the base row
}


def test_version_and_keys() -> None:
    assert METRIC_DEFINITIONS_VERSION == 3
    assert list(metric_keys()) == KEYS
    assert list(cl_metrics(R_T2)) == KEYS
    assert list(cl_metrics_explained(R_T2)) == KEYS
    assert [definition(k).higher_is_better for k in KEYS].count(False) == 1
    assert definition("forgetting").higher_is_better is False


def test_hand_computed_t2() -> None:
    assert cl_metrics(R_T2) == approx(EXPECTED_T2)


def test_hand_computed_t3() -> None:
    assert cl_metrics(R_T3) == approx(EXPECTED_T3)


def test_hand_computed_t3_without_base_row() -> None:
    # the same steps without row 0: everything but fwt and zero_shot_gain is unchanged
    explained = cl_metrics_explained(R_T3[1:], base_row=False)
    expected = {**EXPECTED_T3, "fwt": None, "zero_shot_gain": None}
    assert {k: m.value for k, m in explained.items()} == approx(expected)
    for name in ("fwt", "zero_shot_gain"):
        assert "base model's row (step 0)" in explained[name].reason


def test_hand_computed_t4_without_base_row() -> None:
    assert cl_metrics(R_T4_NO_BASE, base_row=False) == approx(EXPECTED_T4_NO_BASE)


def test_identity_on_hand_computed() -> None:
    # last - mft = ((T-1)/T) * bwt: T=2: 75 - 85 = -10 = 1/2 * -20; T=3: 68.33 - 80 = 2/3 * -17.5
    for R, base_row in ((R_T2, True), (R_T3, True), (R_T4_NO_BASE, False)):
        m = cl_metrics(R, base_row=base_row)
        T = len(R[0])
        assert m["last"] - m["mft"] == pytest.approx((T - 1) / T * m["bwt"], abs=1e-9)


def test_outputs_are_python_floats() -> None:
    for value in cl_metrics(np.array(R_T3, dtype=np.float32)).values():
        assert type(value) is float


def test_sign_conventions() -> None:
    # accuracy on task 1 drops from 80 to 60: forgetting positive, bwt negative
    m = cl_metrics([[50, 50], [80, 50], [60, 90]])
    assert m["forgetting"] > 0 and m["bwt"] < 0
    # accuracy on task 1 rises from 60 to 80: negative forgetting, positive bwt
    m = cl_metrics([[50, 50], [60, 50], [80, 90]])
    assert m["forgetting"] == -20.0 and m["bwt"] == 20.0
    # no change at all: zero, not None
    m = cl_metrics([[50, 50], [70, 50], [70, 90]])
    assert m["forgetting"] == 0.0 and m["bwt"] == 0.0
    # before training on task 2, the model already gained on it: positive fwt
    assert cl_metrics([[50, 30], [70, 45], [70, 90]])["fwt"] == 15.0


def test_t1_gives_none_never_zero() -> None:
    explained = cl_metrics_explained([[40.0], [70.0]])
    assert explained["last"] == MetricValue(70.0)
    assert explained["avg"].value == 70.0
    assert explained["mft"].value == 70.0
    assert explained["zero_shot_gain"].value == 30.0
    for name in ("bwt", "forgetting", "fwt"):
        assert explained[name] == MetricValue(None, "needs at least two steps (T = 1)")
    assert cl_metrics([[70.0]], base_row=False)["bwt"] is None


def test_missing_cell_names_the_cell_and_others_still_computed() -> None:
    R = np.array(R_T3, dtype=float)
    R[2, 0] = np.nan  # R[2][1]: step 2, task 1 (tasks count from 1)
    explained = cl_metrics_explained(R)
    # read by avg (step 2's mean over tasks 1..2) and by forgetting (max over steps 1..2)
    for name in ("avg", "forgetting"):
        assert explained[name].value is None
        assert explained[name].reason == "needs R[2][1] (step 2, task 1), which is missing"
    # not read by the others
    for name in ("last", "mft", "bwt", "fwt", "zero_shot_gain"):
        assert explained[name].value == pytest.approx(EXPECTED_T3[name])
        assert explained[name].reason is None


def test_missing_cells_listed() -> None:
    R = np.array(R_T3, dtype=float)
    R[3, :] = np.nan  # the whole final row
    reason = cl_metrics_explained(R)["last"].reason
    assert reason == ("needs R[3][1] (step 3, task 1), R[3][2] and R[3][3], which are missing")
    R = np.full((6, 5), np.nan)
    reason = cl_metrics_explained(R)["avg"].reason
    assert reason.startswith("needs R[1][1] (step 1, task 1), R[2][1], R[2][2] and 12 more")


def test_lower_triangle_only() -> None:
    # peers publish T x T lower triangles (no base row): every metric that reads only
    # cells on or below the diagonal is defined
    lower = np.array(R_T4_NO_BASE, dtype=float)
    lower[np.triu_indices(4, k=1)] = np.nan
    assert cl_metrics(lower, base_row=False) == approx(EXPECTED_T4_NO_BASE)
    # with a base row whose upper triangle (row 0 included) is missing, fwt needs R[0][2]
    # and R[1][2]; zero_shot_gain needs row 0
    full = np.array(R_T3, dtype=float)
    full[np.triu_indices(4, k=0, m=3)] = np.nan  # cells with j >= i (0-based), i.e. above
    explained = cl_metrics_explained(full)
    for name in ("last", "avg", "mft", "bwt", "forgetting"):
        assert explained[name].value == pytest.approx(EXPECTED_T3[name])
    assert explained["fwt"].value is None
    assert explained["fwt"].reason.startswith("needs R[0][2] (step 0, task 2), R[1][2]")
    assert explained["zero_shot_gain"].reason.startswith("needs R[0][1] (step 0, task 1)")


def test_none_accepted_as_missing() -> None:
    m = cl_metrics([[40, None], [80, None], [60, 90]])
    assert m["last"] == 75.0 and m["fwt"] is None


@pytest.mark.parametrize(
    ("R", "base_row", "message"),
    [
        ([[1, 2], [3, 4]], True, r"shape \(2, 2\); expected .* \(3, 2\) for T = 2 .*no-base-row"),
        ([[1, 2], [3, 4], [5, 6]], False, r"shape \(3, 2\); expected .* \(2, 2\).*base_row=True"),
        ([[1, 2], [3, 4], [5, 6], [7, 8]], True, r"shape \(4, 2\); expected .* \(3, 2\)"),
        ([1, 2, 3], True, r"2-D matrix; found 1 dimension"),
        (np.zeros((3, 0)), True, r"at least one task"),
        ([[1, 2], [3]], True, r"rectangular"),
        (
            [[40, 30], [80, 101], [60, 90]],
            True,
            r"R\[1\]\[2\] \(step 1, task 2\) = 101.0 is outside",
        ),
        ([[80, -1], [60, 90]], False, r"R\[1\]\[2\] \(step 1, task 2\) = -1.0 is outside"),
        ([[40, 30], [80, np.inf], [60, 90]], True, r"R\[1\]\[2\] .* = inf is outside"),
    ],
)
def test_invalid_matrices(R: object, base_row: bool, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cl_metrics(R, base_row=base_row)  # type: ignore[arg-type]


def test_mllm_cl_published_numbers() -> None:
    # MLLM-CL (arXiv 2506.05453), LLaVA-1.5-7B, Domain LoRA-FT: published final row,
    # MFN 53.00, MFT 64.98, BWT -14.97. Only the final row and MFT are published, so the
    # earlier diagonal is filled with values whose mean with R[5][5] = 87.45 is MFT:
    # (5 * 64.98 - 87.45) / 4 = 59.3625 each.
    final = [69.65, 41.59, 25.43, 40.88, 87.45]
    T = 5
    R = np.full((T + 1, T), np.nan)
    R[T] = final
    for j in range(T - 1):
        R[j + 1, j] = (T * 64.98 - 87.45) / (T - 1)
    m = cl_metrics(R)
    # MFN = (69.65 + 41.59 + 25.43 + 40.88 + 87.45) / 5 = 265.00 / 5
    assert round(m["last"], 2) == 53.00
    assert m["mft"] == pytest.approx(64.98)
    # BWT = T/(T-1) * (MFN - MFT) = 1.25 * (53.00 - 64.98) = -14.975; the published MFN and
    # MFT are rounded to 2 d.p., so agreement within 1.25 * (0.005 + 0.005) is "to 2 d.p."
    assert abs(m["bwt"] - (-14.97)) <= 1.25 * 0.01
    assert abs(T / (T - 1) * (53.00 - 64.98) - (-14.97)) <= 0.005 + 1e-9
    # the other two published rows: MR-LoRA and Ability LoRA-FT
    assert round(float(np.mean([80.87, 65.32, 54.12, 56.71, 91.12])), 2) == 69.63
    assert round(float(np.mean([23.60, 33.70, 55.84, 32.50])), 2) == 36.41
    assert abs(4 / 3 * (36.41 - 41.28) - (-6.49)) <= 0.005
    # avg and forgetting need the middle rows, which are not published
    assert m["avg"] is None and m["forgetting"] is None


# --------------------------------------------------------------------------- properties

matrices = st.integers(min_value=1, max_value=8).flatmap(
    lambda T: st.lists(
        st.lists(st.floats(0, 100, allow_nan=False), min_size=T, max_size=T),
        min_size=T + 1,
        max_size=T + 1,
    )
)


@settings(max_examples=200, deadline=None)
@given(matrices)
def test_identity_last_minus_mft(R: list[list[float]]) -> None:
    m = cl_metrics(R)
    T = len(R[0])
    if T == 1:
        assert m["bwt"] is None
        assert m["last"] == pytest.approx(m["mft"])
    else:
        assert m["last"] - m["mft"] == pytest.approx((T - 1) / T * m["bwt"], abs=1e-9)
    assert all(
        v is not None for k, v in m.items() if T > 1 or k not in ("bwt", "forgetting", "fwt")
    )


@settings(max_examples=200, deadline=None)
@given(matrices, st.data())
def test_undefined_exactly_when_a_read_cell_is_missing(R: list[list[float]], data) -> None:
    # the reasons (from the list of cells each metric reads) and the formulas (NaN
    # propagation) agree; and dropping a cell no metric reads changes nothing
    full = np.array(R)
    T = full.shape[1]
    mask = np.array(
        data.draw(st.lists(st.booleans(), min_size=full.size, max_size=full.size))
    ).reshape(full.shape)
    holed = np.where(mask, np.nan, full)
    explained = cl_metrics_explained(holed)
    raw = metric_arrays(holed)
    complete = cl_metrics(full)
    for name in KEYS:
        assert (explained[name].value is None) == bool(np.isnan(raw[name]))
        assert (explained[name].value is None) == (explained[name].reason is not None)
        if explained[name].value is not None:
            assert explained[name].value == pytest.approx(complete[name])
        elif T > 1 or name not in ("bwt", "forgetting", "fwt"):
            assert "which" in explained[name].reason and "missing" in explained[name].reason


def test_metric_arrays_on_a_stack_equals_each_matrix() -> None:
    rng = np.random.default_rng(3)
    stack = rng.uniform(0, 100, size=(2, 5, 6, 5))
    stack[0, 1, 2, 3] = np.nan
    arrays = metric_arrays(stack)
    for name in KEYS:
        assert arrays[name].shape == (2, 5)
    for a in range(2):
        for b in range(5):
            one = cl_metrics(stack[a, b])
            for name in KEYS:
                if one[name] is None:
                    assert np.isnan(arrays[name][a, b])
                else:
                    assert arrays[name][a, b] == pytest.approx(one[name])


# --------------------------------------------------------------------------- probes


def test_probe_drops() -> None:
    P = [
        [60.0, 50.0, 40.0],  # step 0: probe a, b, c
        [55.0, np.nan, 45.0],  # step 1
        [48.0, 52.0, 50.0],  # step 2
        [52.0, 51.0, np.nan],  # step 3
    ]
    a, b, c = probe_drops(P, names=["a", "b", "c"])
    # a: drop = 60 - 52 = 8 (positive = forgetting); max drop = 60 - 48 = 12 at step 2
    assert a == {
        "probe": "a",
        "series": [60.0, 55.0, 48.0, 52.0],
        "drop": 8.0,
        "max_drop": 12.0,
        "max_drop_step": 2,
        "reason": None,
    }
    # b: drop = 50 - 51 = -1 (it improved); step 1 missing -> no max drop
    assert b["drop"] == -1.0 and b["max_drop"] is None
    assert b["reason"] == "probe 'b' is missing at step 1"
    assert math.isnan(b["series"][1])
    # c: the final step is missing -> no drop either
    assert c["drop"] is None and c["max_drop"] is None and "step 3" in c["reason"]
    assert all(type(v) is float for v in a["series"])
    assert probe_drops(np.zeros((3, 0))) == []
    assert probe_drops([[70.0], [80.0]])[0]["probe"] == 0


def test_probe_drops_invalid() -> None:
    with pytest.raises(ValueError, match=r"\(T\+1\) x K"):
        probe_drops([50.0, 40.0])
    with pytest.raises(ValueError, match=r"P\[1\]\[0\] \(step 1, probe 0\) = 120.0"):
        probe_drops([[50.0], [120.0]])
    with pytest.raises(ValueError, match="2 probe names for 1"):
        probe_drops([[50.0], [40.0]], names=["a", "b"])


# --------------------------------------------------------------------------- bootstrap

TRUE_P = np.array(
    [
        [0.30, 0.25, 0.20],  # step 0
        [0.80, 0.35, 0.25],  # after task 1
        [0.70, 0.85, 0.30],  # after task 2
        [0.65, 0.75, 0.90],  # after task 3
    ]
)


def simulate(
    rng: np.random.Generator,
    p: np.ndarray = TRUE_P,
    n: int = 300,
    rho: float = 0.8,
    difficulty: list[np.ndarray] | None = None,
) -> list[np.ndarray]:
    """Per-task item scores (steps x items, 0/1) with P(correct) = p[i][j] in every cell.

    Items differ in difficulty, so one item's outcomes at different steps are correlated
    (a Gaussian copula with correlation ``rho``), as with real checkpoints of one model.
    Pass ``difficulty`` (one standard-normal array per task) to simulate another entry
    answering the same items.
    """
    items = []
    for j in range(p.shape[1]):
        shared = rng.standard_normal(n) if difficulty is None else difficulty[j]
        own = rng.standard_normal((p.shape[0], len(shared)))
        latent = math.sqrt(rho) * shared + math.sqrt(1 - rho) * own
        items.append((latent < ndtri(p[:, j])[:, None]).astype(float))
    return items


def test_bootstrap_point_is_cl_metrics_of_cell_means() -> None:
    items = simulate(np.random.default_rng(0))
    point = cl_metrics(np.stack([a.mean(axis=1) for a in items], axis=1) * 100)
    result = bootstrap_metrics(items, n_boot=200)
    assert list(result) == KEYS
    for name in KEYS:
        assert isinstance(result[name], Interval)
        assert result[name].value == pytest.approx(point[name], abs=1e-9)
        lo, hi = result[name].ci95
        assert type(lo) is float and type(hi) is float and lo <= hi


def test_bootstrap_same_seed_identical() -> None:
    items = simulate(np.random.default_rng(1))
    assert bootstrap_metrics(items, seed=7, n_boot=300) == bootstrap_metrics(
        items, seed=7, n_boot=300
    )
    assert np.array_equal(
        bootstrap_matrices(items, seed=7, n_boot=50), bootstrap_matrices(items, seed=7, n_boot=50)
    )
    assert bootstrap_metrics(items, seed=7, n_boot=300) != bootstrap_metrics(
        items, seed=8, n_boot=300
    )


def test_bootstrap_intervals_contain_point_estimate() -> None:
    for seed in range(5):
        items = simulate(np.random.default_rng(100 + seed))
        for name, interval in bootstrap_metrics(items, n_boot=1000, seed=seed).items():
            lo, hi = interval.ci95
            assert lo <= interval.value <= hi, name


def test_bootstrap_matrices_shape_and_pairing() -> None:
    rng = np.random.default_rng(2)
    base = (rng.random(400) < 0.6).astype(float)
    items = [np.vstack([base, base, base]) for _ in range(2)]  # identical at every step
    boot = bootstrap_matrices(items, n_boot=100, seed=0)
    assert boot.shape == (100, 3, 2)
    # the same resample at every step: identical rows in every replicate
    assert np.array_equal(boot[:, 0], boot[:, 1]) and np.array_equal(boot[:, 1], boot[:, 2])
    # tasks are resampled independently
    assert not np.array_equal(boot[:, :, 0], boot[:, :, 1])
    assert boot.mean() == pytest.approx(base.mean() * 100, abs=1.0)


def test_paired_interval_much_narrower_than_unpaired() -> None:
    # strongly correlated steps and little forgetting: an item's outcome rarely changes
    # between steps, so most of the noise in R[T][j] and R[j][j] cancels in their difference
    stable = np.array(
        [
            [0.30, 0.25, 0.20],
            [0.80, 0.30, 0.25],
            [0.78, 0.85, 0.30],
            [0.77, 0.83, 0.90],
        ]
    )
    rng = np.random.default_rng(4)
    items = simulate(rng, p=stable, rho=0.97, n=500)
    paired = bootstrap_metrics(items, n_boot=1000)["bwt"].ci95
    # shuffling each step's items independently keeps every cell's accuracy (and so every
    # point estimate) but breaks the pairing: the paired bootstrap of the shuffled data is
    # an unpaired bootstrap of the original
    shuffled = [np.vstack([rng.permutation(row) for row in a]) for a in items]
    unpaired = bootstrap_metrics(shuffled, n_boot=1000)["bwt"]
    assert unpaired.value == pytest.approx(bootstrap_metrics(items, n_boot=10)["bwt"].value)
    width = paired[1] - paired[0]
    unpaired_width = unpaired.ci95[1] - unpaired.ci95[0]
    assert width < 0.5 * unpaired_width


def test_bootstrap_coverage_simulation() -> None:
    """Coverage of every metric's 95% interval over 400 simulated evaluations (T = 3, 300 items).

    The truth is the metric of the true probabilities. With 400 runs, one standard error
    of the coverage is 1.1 points, so even a perfect 95% interval falls outside 93–97% for
    about one seed in ten. With the declared methods (BCa; moment selection for `forgetting`),
    seeds 0–3 of this simulation gave 92.2–95.5% for `last`, 94.5–96.0% for `bwt`,
    94.8–96.2% for `forgetting` and 92.5–95.8% for the others; seed 0 gives 93.2% (`fwt`)
    to 96.2% (`forgetting`). A change to how replicates are drawn changes these numbers:
    check several seeds before reading a failure here as a bug. The study over scenarios
    with ties is tests/perf/test_interval_coverage.py.
    """
    truth = cl_metrics(100 * TRUE_P)
    rng = np.random.default_rng(0)
    runs = 400
    hits = dict.fromkeys(KEYS, 0)
    for run in range(runs):
        result = bootstrap_metrics(simulate(rng), n_boot=500, seed=run)
        for name in hits:
            lo, hi = result[name].ci95
            hits[name] += lo <= truth[name] <= hi
    for name, count in hits.items():
        assert 0.93 <= count / runs <= 0.97, (name, count / runs)


def test_bootstrap_missing_cells_and_no_base_row() -> None:
    items = simulate(np.random.default_rng(5), n=50)
    items[1][1] = np.nan  # R[1][2] missing: fwt undefined
    result = bootstrap_metrics(items, n_boot=50)
    assert result["fwt"] == Interval(None, None, "needs R[1][2] (step 1, task 2), which is missing")
    assert result["last"].ci95 is not None
    no_base = bootstrap_metrics([a[1:] for a in items], base_row=False, n_boot=50)
    assert no_base["zero_shot_gain"].value is None and no_base["zero_shot_gain"].ci95 is None
    # the resamples depend only on the number of items, so steps 1..T resample identically
    assert no_base["last"] == result["last"]
    # T = 1
    one = bootstrap_metrics([np.ones((2, 10))], n_boot=20)
    assert one["bwt"] == Interval(None, None, "needs at least two steps (T = 1)")
    assert one["last"] == Interval(100.0, (100.0, 100.0), method="bca")


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([], "one array per task"),
        ([np.ones((3, 4))], r"item_scores\[0\] \(task 1\) has shape \(3, 4\); expected .*\(2, n\)"),
        ([np.ones((2, 0))], r"has shape \(2, 0\)"),
        ([np.array([[1.0, np.nan], [1.0, 0.0]])], r"task 1\), step 0: 1 of 2 item scores are NaN"),
        ([np.array([[1.0, 0.0], [1.0, -0.5]])], r"task 1\), step 1, item 1: score -0.5 is not a"),
        ([np.array([[1.0, 0.0], [1.0, np.inf]])], r"step 1, item 1: score inf is not a finite"),
        ([np.array([[1.0, 0.0], [2.0, 1.0]])], r"task 1\), step 1: the mean score 1.5 is above 1"),
    ],
)
def test_bootstrap_invalid_items(items: list[np.ndarray], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        bootstrap_metrics(items, n_boot=10)


def test_bootstrap_invalid_arguments() -> None:
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_metrics([np.ones((2, 3))], n_boot=0)
    with pytest.raises(ValueError, match="level"):
        bootstrap_metrics([np.ones((2, 3))], level=1.5)


def test_bootstrap_large_task_in_chunks() -> None:
    # more items than one chunk of draws holds: same shape, sensible values
    items = [(np.random.default_rng(6).random((2, 9000)) < 0.5).astype(float)]
    boot = bootstrap_matrices(items, n_boot=600, seed=1)
    assert boot.shape == (600, 2, 1)
    assert abs(boot[:, 1, 0].mean() - items[0][1].mean() * 100) < 0.2


# --------------------------------------------------------------------------- paired test


def test_paired_test_identical_entries() -> None:
    items = simulate(np.random.default_rng(7))
    result = paired_test(items, items, "last", n_boot=200)
    assert result.diff == 0.0 and result.ci95 == (0.0, 0.0) and result.p_value == 1.0


def test_paired_test_detects_a_difference_and_is_antisymmetric() -> None:
    rng = np.random.default_rng(8)
    a = simulate(rng)
    worse = TRUE_P.copy()
    worse[-1] -= 0.15  # 15 points lower on every task at the final step
    b = simulate(rng, p=worse)
    ab = paired_test(a, b, "last", n_boot=500, seed=1)
    ba = paired_test(b, a, "last", n_boot=500, seed=1)
    assert ab.diff > 5 and ab.p_value < 0.01 and ab.ci95[0] > 0
    assert ba.diff == pytest.approx(-ab.diff) and ba.p_value == ab.p_value
    assert ab.p_value >= 1 / 501  # never exactly 0


def test_paired_test_uses_items_both_answered() -> None:
    a = [np.array([[1.0, 0.0, 1.0, 1.0], [1.0, 1.0, 0.0, 1.0]])]
    b = [np.array([[1.0, 0.0, np.nan, 0.0], [0.0, 1.0, np.nan, 1.0]])]
    result = paired_test(a, b, "last", n_boot=100)
    # item 3 is dropped from both: final-step accuracies (1+1+1)/3 vs (0+1+1)/3
    assert result.diff == pytest.approx(100 / 3)


def test_paired_test_undefined_and_invalid() -> None:
    a = [np.ones((2, 5))]
    result = paired_test(a, a, "bwt", n_boot=10)
    assert result.diff is None and result.p_value is None
    assert result.reason == "bwt is undefined for entry A: needs at least two steps (T = 1)"
    with pytest.raises(ValueError, match="unknown metric 'acc'"):
        paired_test(a, a, "acc")
    with pytest.raises(ValueError, match=r"task 1: item scores of shape \(2, 5\) and \(2, 4\)"):
        paired_test(a, [np.ones((2, 4))], "last")
    with pytest.raises(ValueError, match="1 and 2 tasks"):
        paired_test(a, [np.ones((3, 5))] * 2, "last")


# --------------------------------------------------------------------------- rank groups


def test_rank_groups_two_tied_one_worse() -> None:
    # three entries answer the same items (shared difficulties); a and b have the same
    # true accuracies, c is 20 points worse on every task at the final step
    rng = np.random.default_rng(9)
    difficulty = [rng.standard_normal(400) for _ in range(3)]
    a = simulate(rng, difficulty=difficulty)
    b = simulate(rng, difficulty=difficulty)
    worse = TRUE_P.copy()
    worse[-1] -= 0.2
    c = simulate(rng, p=worse, difficulty=difficulty)
    assert paired_test(a, b, "last", n_boot=500).p_value > 0.2  # not a borderline case
    groups = rank_groups({"c": c, "a": a, "b": b}, "last", n_boot=500)
    assert groups["a"] == groups["b"] == 1
    assert groups["c"] == 2
    assert list(groups)[-1] == "c"  # best first
    # forgetting: lower is better by default; c forgets more, so it is still last
    assert rank_groups({"c": c, "a": a, "b": b}, "forgetting", n_boot=300)["c"] == 2
    # an explicit direction overrides the default
    assert rank_groups({"a": a, "c": c}, "last", higher_is_better=False, n_boot=300) == {
        "c": 1,
        "a": 2,
    }


def test_rank_groups_undefined_metric_gets_none() -> None:
    one = [np.ones((2, 10))]
    assert rank_groups({"x": one, "y": one}, "last", n_boot=20) == {"x": 1, "y": 1}
    assert rank_groups({"x": one}, "bwt", n_boot=20) == {"x": None}
    with pytest.raises(ValueError, match="alpha"):
        rank_groups({"x": one}, "last", alpha=0)
