"""A metric is one row of the metric table: the CLI, results.json, the site's table and its
CSV all pick it up without another edit; and every committed entry re-scores to the same
results.json."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import benchmark.metrics.definitions as definitions_module
from benchmark.cli import main
from benchmark.evaluation.run import evaluate_entry
from benchmark.metrics.definitions import METRIC_TABLE, definition
from benchmark.paths import HOME_ENV, TASKS_ENV
from benchmark.site.render import site_build

ROOT = Path(__file__).resolve().parents[1]
ENTRIES = sorted(p.parent for p in (ROOT / "submissions").glob("*/*/results.json"))

# The worst task after the final step: a test-only metric, declared as one row.
WORST_FINAL = replace(
    definition("last"),
    key="worst_final",
    label="worst final",
    formula="min_j R[T][j]",
    meaning="Accuracy on the weakest task after the final step.",
    summary="min of the final row; higher is better",
    compute=lambda p: p.final.min(axis=-1),
    leaderboard=True,
)


@pytest.fixture
def shapes_env(shapes_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The prepared shapes suite (the session's), not the user's or CI's data home."""
    monkeypatch.setenv(HOME_ENV, str(shapes_home))
    monkeypatch.delenv(TASKS_ENV, raising=False)


@pytest.fixture
def seq_lora_copy(tmp_path: Path) -> Path:
    """A copy of the committed seq-lora-tiny entry under ``tmp_path/submissions``."""
    entry = tmp_path / "submissions" / "shapes" / "seq-lora-tiny"
    shutil.copytree(ROOT / "submissions" / "shapes" / "seq-lora-tiny", entry)
    return entry


@pytest.fixture
def extra_metric(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(definitions_module, "METRIC_TABLE", (*METRIC_TABLE, WORST_FINAL))


def test_a_new_row_reaches_the_metrics_command(
    extra_metric: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "m.json"
    path.write_text(json.dumps([[10, 20], [80, 30], [60, 90]]))
    assert main(["metrics", str(path), "--json"]) == 0
    values = json.loads(capsys.readouterr().out)
    assert values["worst_final"] == 60.0 and values["last"] == 75.0
    assert main(["metrics", str(path)]) == 0
    assert "min of the final row; higher is better" in capsys.readouterr().out


def test_a_new_row_reaches_results_the_site_and_the_csv(
    extra_metric: None, shapes_env: None, seq_lora_copy: Path, tmp_path: Path
) -> None:
    entry = seq_lora_copy
    outcome = evaluate_entry(entry, backend="replay", progress=False, n_boot=200)
    written = json.loads((entry / "results.json").read_text())
    metric = written["metrics"]["worst_final"]
    final = written["matrix"][-1][: len(written["tasks"])]
    assert metric["value"] == pytest.approx(min(final))
    low, high = metric["ci95"]
    assert low <= metric["value"] <= high
    assert outcome.results is not None and "worst_final" in outcome.results.metrics

    index = site_build(tmp_path / "submissions", tmp_path / "site")
    html = index.read_text()
    assert 'data-key="worst_final"' in html and "worst final" in html
    assert "min_j R[T][j]" in html  # the explanation table too
    csv = pd.read_csv(next((tmp_path / "site").glob("shapes-v*.csv")))
    assert csv.loc[0, "worst_final"] == pytest.approx(min(final))
    assert {"worst_final_ci_low", "worst_final_ci_high"} <= set(csv.columns)


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_committed_entries_rescore_to_identical_results(
    entry: Path, shapes_env: None, tmp_path: Path
) -> None:
    committed = json.loads((entry / "results.json").read_text())
    boot = committed["bootstrap"]
    evaluate_entry(
        entry,
        backend="replay",
        out_dir=tmp_path,
        progress=False,
        n_boot=boot["replicates"],
        seed=boot["seed"],
    )
    text = (tmp_path / "results.json").read_text()
    again = json.loads(text)
    # what describes the run rather than the result: when, with what, what was generated
    # (re-scoring loads no model, so it records no checkpoints or chat template)
    timings = (
        "started",
        "finished",
        "wall_seconds",
        "versions",
        "backend",
        "generated",
        "checkpoints",
        "chat_template_sha256",
        "base_parameters",  # counted from the weights, which re-scoring does not load
    )
    for key in timings:
        committed["provenance"].pop(key, None)
        again["provenance"].pop(key, None)
    assert again == committed
    # and byte for byte, once the timings are put back
    restored = json.loads(text)
    recorded = json.loads((entry / "results.json").read_text())["provenance"]
    restored["provenance"].update({k: recorded[k] for k in timings if k in recorded})
    assert (
        json.dumps(restored, indent=1, ensure_ascii=False) + "\n"
        == (entry / "results.json").read_text()
    )
    assert np.isfinite(again["metrics"]["last"]["value"])


def test_rescore_rewrites_results_and_keeps_the_runs_records(
    shapes_env: None, seq_lora_copy: Path, tmp_path: Path
) -> None:
    # an entry scored under older definitions: `rescore` brings its results.json to what
    # the current code computes, keeping what it recorded of the run (backend, checkpoints)
    source = ROOT / "submissions" / "shapes" / "seq-lora-tiny"
    entry = seq_lora_copy
    old = json.loads((entry / "results.json").read_text())
    old["metric_definitions"] = 1
    old["metrics"]["forgetting"]["ci95"] = [25.0, 30.0]  # excludes its point estimate
    del old["bootstrap"]["intervals"]
    (entry / "results.json").write_text(json.dumps(old, indent=1, ensure_ascii=False) + "\n")

    assert main(["rescore", "--submissions", str(tmp_path / "submissions")]) == 0
    assert (entry / "results.json").read_text() == (source / "results.json").read_text()
    written = json.loads((entry / "results.json").read_text())
    assert written["provenance"]["backend"] == "hf" and written["provenance"]["checkpoints"]
    assert written["bootstrap"]["intervals"] == {d.key: d.interval for d in METRIC_TABLE}
    assert written["bootstrap"]["intervals"]["forgetting"] == "moment-selection"


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_committed_intervals_hold_their_point_estimates(entry: Path) -> None:
    results = json.loads((entry / "results.json").read_text())
    for name, metric in results["metrics"].items():
        if metric["value"] is not None:
            low, high = metric["ci95"]
            assert low <= metric["value"] <= high, name


def test_rescore_leaves_reported_only_entries_alone(
    shapes_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    # `make rescore` re-scores every committed entry: a paper's numbers have no predictions
    monkeypatch.setenv(HOME_ENV, str(shapes_home))
    monkeypatch.delenv(TASKS_ENV, raising=False)
    submissions = tmp_path / "submissions"
    paper = submissions / "mllm-cl-domain" / "lora-ft-paper"
    shutil.copytree(ROOT / "submissions" / "mllm-cl-domain" / "lora-ft-paper", paper)
    shutil.copytree(ROOT / "submissions/shapes/seq-lora-tiny", submissions / "shapes/seq-lora-tiny")
    assert main(["rescore", "--submissions", str(submissions)]) == 0
    assert sorted(p.name for p in paper.iterdir()) == ["submission.yaml"]
    assert main(["rescore", str(paper)]) != 0
    assert "a reported-only entry (a paper's numbers) has no predictions" in capsys.readouterr().err
