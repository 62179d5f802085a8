"""The demo pipeline end to end, shrunk: a small `shapes` (shadowed through
$MLLMCL_BENCH_TASKS), a few training steps, the real evaluator, validator and site."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmark.paths import HOME_ENV, TASKS_ENV

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent


def small_shapes(folder: Path) -> None:
    text = (REPO / "tasks" / "shapes.yaml").read_text()
    text = text.replace("sizes: {train: 2000, test: 300}", "sizes: {train: 24, test: 12}")
    assert "sizes: {train: 24, test: 12}" in text
    folder.mkdir()
    (folder / "shapes.yaml").write_text(text)


def test_demo_trains_evaluates_validates_and_publishes(tmp_path: Path, monkeypatch) -> None:
    from benchmark.demo.baselines import TrainConfig
    from benchmark.demo.run import BASELINES, run_demo
    from benchmark.validate.pull_requests import validate

    small_shapes(tmp_path / "tasks")
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    monkeypatch.setenv(TASKS_ENV, str(tmp_path / "tasks"))
    lines: list[str] = []
    config = TrainConfig(steps_per_task=2, batch_size=4, replay_per_task=2)
    text = run_demo(
        submissions=tmp_path / "submissions",
        site_out=tmp_path / "site",
        config=config,
        log=lines.append,
    )
    assert "== leaderboard (shapes)" in text and "site: " in text
    for baseline in BASELINES:
        entry = tmp_path / "submissions" / "shapes" / baseline.entry
        results = json.loads((entry / "results.json").read_text())
        assert len(results["matrix"]) == 5 and all(
            v is not None for r in results["matrix"] for v in r
        )
        assert baseline.entry in text
    joint = json.loads((tmp_path / "submissions/shapes/joint-lora-tiny/results.json").read_text())
    assert joint["matrix"][1] == joint["matrix"][4]  # one checkpoint evaluated at every step
    assert (tmp_path / "site" / "index.html").is_file()
    assert sum("training" in line for line in lines) == 3

    # checkpoints are reused: a second run trains nothing
    lines.clear()
    run_demo(
        submissions=tmp_path / "submissions",
        site_out=tmp_path / "site",
        config=config,
        log=lines.append,
    )
    assert not any("training" in line for line in lines)
    assert sum("reusing trained checkpoints" in line for line in lines) == 3

    # the entries the demo writes pass the leaderboard's pull-request checks
    reports = validate(repo=tmp_path)
    assert [r.ok for r in reports] == [True, True, True], [r.problems for r in reports]
