"""The evaluator end to end on CPU: a tiny LLaVA-shaped model and LoRA adapters built here,
a small suite, the full (T+1)×T matrix, the cache, resume after a real kill, replay."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tinyworld import TASKS, make_entry, predictions, stable

from benchmark.entry.results import load_results
from benchmark.entry.submission import SubmissionError
from benchmark.errors import BenchmarkError
from benchmark.evaluation.grid import summary_text
from benchmark.evaluation.run import evaluate_entry

pytestmark = pytest.mark.slow


def test_full_matrix_metrics_and_schema(env, tmp_path: Path) -> None:
    entry = make_entry(tmp_path, env)
    outcome = evaluate_entry(
        entry, batch_size=4, cache_path=tmp_path / "c.sqlite", progress=False, n_boot=200
    )
    assert outcome.generated == 4 * 3 * 10
    results = load_results(entry / "results.json")  # validates against the schema
    assert len(results.matrix) == 4 and all(len(row) == 3 for row in results.matrix)
    assert all(v is not None for row in results.matrix for v in row)  # not just the triangle
    assert set(results.metrics) == {
        "last",
        "avg",
        "mft",
        "bwt",
        "forgetting",
        "fwt",
        "zero_shot_gain",
    }
    assert results.metrics["last"].ci95 is not None
    assert len(results.cells) == 12 and all(c.n == 10 for c in results.cells)
    assert results.provenance.backend == "hf"
    assert results.provenance.chat_template_sha256
    # the base model's size, counted from its weights (the same count torch gives)
    from transformers import AutoModelForImageTextToText

    model = AutoModelForImageTextToText.from_pretrained(entry / "model")
    assert results.provenance.base_parameters == sum(p.numel() for p in model.state_dict().values())
    preds = predictions(entry)
    assert [r["uid"] for r in preds[(0, "a")]] == [f"toy/a/test/{i:05d}" for i in range(10)]
    # every adapter is really applied: each step's outputs differ from the base model's
    for step in (1, 2, 3):
        changed = sum(
            p["prediction"] != q["prediction"]
            for task in TASKS
            for p, q in zip(preds[(step, task)], preds[(0, task)], strict=True)
        )
        assert changed > 0, f"step {step} gives the base model's outputs"
    text = summary_text(outcome.results)
    assert "accuracy matrix" in text and "bwt" in text


def test_batched_equals_unbatched_and_rerun_is_identical(env, tmp_path: Path) -> None:
    one = make_entry(tmp_path, env, "one")
    many = make_entry(tmp_path, env, "many")
    evaluate_entry(one, batch_size=1, cache_path=tmp_path / "1.sqlite", progress=False, n_boot=100)
    evaluate_entry(many, batch_size=7, cache_path=tmp_path / "7.sqlite", progress=False, n_boot=100)
    assert predictions(one) == predictions(many)
    first = json.loads((many / "results.json").read_text())
    again = evaluate_entry(
        many, batch_size=7, cache_path=tmp_path / "7.sqlite", progress=False, n_boot=100
    )
    assert again.generated == 0  # nothing changed: nothing generated
    second = json.loads((many / "results.json").read_text())
    assert stable(first) == stable(second)


def test_adapter_changed_in_place_is_a_new_checkpoint(env, tmp_path: Path) -> None:
    from benchmark.demo.tiny_models import make_lora_adapter

    entry = make_entry(tmp_path, env)
    cache = tmp_path / "c.sqlite"
    evaluate_entry(entry, cache_path=cache, progress=False, n_boot=50)
    make_lora_adapter(env["base"], entry / "step-2", seed=99)  # overwrite in place
    rerun = evaluate_entry(entry, cache_path=cache, progress=False, n_boot=50)
    assert rerun.generated == 3 * 10  # only step 2's cells


def test_kill_and_resume_gives_identical_results(env, tmp_path: Path) -> None:
    reference = make_entry(tmp_path, env, "ref")
    evaluate_entry(
        reference, batch_size=1, cache_path=tmp_path / "ref.sqlite", progress=False, n_boot=100
    )
    entry = make_entry(tmp_path, env, "killed")
    cache = tmp_path / "killed.sqlite"
    command = [
        sys.executable,
        "-m",
        "benchmark.cli",
        "evaluate",
        "--submission",
        str(entry),
        "--batch-size",
        "1",
        "--cache",
        str(cache),
        "--bootstrap",
        "100",
        "--quiet",
    ]
    process = subprocess.Popen(
        command, env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    done_before_kill = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if cache.exists():
            try:
                with sqlite3.connect(cache) as db:
                    done_before_kill = db.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]
            except sqlite3.OperationalError:
                done_before_kill = 0
            if done_before_kill >= 25:
                break
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert not (entry / "results.json").exists()
    with sqlite3.connect(cache) as db:
        kept = db.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]
    assert 25 <= kept < 120
    resumed = subprocess.run(
        command, env=os.environ.copy(), capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"generated {120 - kept} prediction(s)" in resumed.stdout  # nothing twice
    assert predictions(entry) == predictions(reference)
    assert stable(json.loads((entry / "results.json").read_text())) == stable(
        json.loads((reference / "results.json").read_text())
    )


def test_replay_rescores_saved_predictions(env, tmp_path: Path) -> None:
    entry = make_entry(tmp_path, env)
    hf = evaluate_entry(entry, cache_path=tmp_path / "c.sqlite", progress=False, n_boot=100)
    replay = evaluate_entry(
        entry, backend="replay", out_dir=tmp_path / "replayed", progress=False, n_boot=100
    )
    assert replay.results.matrix == hf.results.matrix
    assert replay.results.metrics == hf.results.metrics
    (entry / "predictions" / "step-02" / "b.jsonl").write_text("")
    with pytest.raises(BenchmarkError, match="have no prediction"):
        evaluate_entry(entry, backend="replay", out_dir=tmp_path / "again", progress=False)


def test_partial_grid_writes_nothing(env, tmp_path: Path) -> None:
    entry = make_entry(tmp_path, env)
    outcome = evaluate_entry(
        entry,
        limit=2,
        steps=[0, 1],
        tasks=["a"],
        cache_path=tmp_path / "c.sqlite",
        progress=False,
        n_boot=50,
    )
    assert outcome.written is None and not (entry / "results.json").exists()
    assert outcome.results.matrix[0][0] is not None and outcome.results.matrix[2][0] is None
    assert outcome.generated == 4


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"suite_version": 2}, "suite_version 2 but toy is version 1"),
        (
            {"checkpoints": [{"step": 1, "task": "a", "kind": "lora", "path": "step-1"}]},
            "1 checkpoints for a 3-task order",
        ),
        (
            {
                "checkpoints": [
                    {"step": i, "task": t, "kind": "lora", "path": f"step-{i}"}
                    for i, t in enumerate(["b", "a", "c"], start=1)
                ]
            },
            "checkpoints[0] is for task 'b'",
        ),
    ],
)
def test_inconsistent_submission_is_refused(env, tmp_path: Path, changes, message) -> None:
    entry = make_entry(tmp_path, env, **changes)
    with pytest.raises(SubmissionError, match=message.replace("[", r"\[").replace("]", r"\]")):
        evaluate_entry(entry, cache_path=tmp_path / "c.sqlite", progress=False)


def test_two_workers_give_the_single_process_results(env, tmp_path: Path) -> None:
    single = make_entry(tmp_path, env, "single")
    evaluate_entry(single, cache_path=tmp_path / "s.sqlite", progress=False, n_boot=100)
    parallel = make_entry(tmp_path, env, "parallel")
    outcome = evaluate_entry(
        parallel, cache_path=tmp_path / "p.sqlite", progress=False, n_boot=100, workers=2
    )
    assert outcome.generated == 120
    with sqlite3.connect(tmp_path / "p.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM predictions").fetchone()[0] == 120
    assert predictions(parallel) == predictions(single)
    assert stable(json.loads((parallel / "results.json").read_text())) == stable(
        json.loads((single / "results.json").read_text())
    )


def test_units_keep_a_shared_checkpoint_on_one_worker() -> None:
    from benchmark.evaluation.workers import plan_units
    from benchmark.generation.base import GenerationJob, ModelSpec, PromptItem

    def job(step: int, digest: str, n: int) -> GenerationJob:
        model = ModelSpec(step, "lora", Path("a"), Path("b"), digest)
        return GenerationJob(
            step, "t", model, 4, [PromptItem(str(i), str(i), "q", ()) for i in range(n)]
        )

    jobs = [
        job(0, "base", 10),
        job(1, "joint", 10),
        job(2, "joint", 10),
        job(3, "joint", 10),
        job(4, "x", 10),
    ]
    units = plan_units(jobs, 2)
    assert len(units) == 2
    joint = next(u for u in units if 1 in u.steps)
    assert {1, 2, 3} <= set(joint.steps) and sum(u.items for u in units) == 50
    assert sorted(s for u in units for s in u.steps) == [0, 1, 2, 3, 4]


def test_replay_generates_nothing(env, tmp_path: Path) -> None:
    entry = make_entry(tmp_path, env)
    evaluate_entry(entry, cache_path=tmp_path / "c.sqlite", progress=False, n_boot=50)
    replay = evaluate_entry(
        entry, backend="replay", out_dir=tmp_path / "r", progress=False, n_boot=50
    )
    assert replay.generated == 0 and replay.results.provenance.generated == 0
