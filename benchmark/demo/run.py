"""``mllmcl-bench demo``: the whole product on the built-in ``shapes`` suite, offline, on CPU.

prepare ``shapes`` → build a tiny LLaVA-shaped model → train three reference baselines
through colour → shape → count → position (one LoRA adapter per step) → evaluate each as a
leaderboard entry (the full accuracy matrix, metrics with intervals) → build the site.

Checkpoints are cached (a second run reuses them; they live in each entry's
``checkpoints/`` folder, which git ignores), and so are predictions (the evaluator's
cache), so a second run takes seconds.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from benchmark.demo.baselines import TrainConfig, examples_of, train_sequence
from benchmark.evaluation.grid import summary_text
from benchmark.evaluation.run import evaluate_entry
from benchmark.generation.checkpoints import content_hash
from benchmark.metrics.definitions import metric_table
from benchmark.paths import suite_data_dir
from benchmark.suites.prepare import ensure_prepared, read_manifest, records_path
from benchmark.suites.records import read_records
from benchmark.suites.registry import load_suite

SUITE = "shapes"
CHECKPOINTS = "checkpoints"
HIDDEN_SIZE = 128
# How the tiny base is built (tiny_models.build_tiny_llava's arguments): 56-pixel images
# (16 patches); the language model's weights fan-in scaled and the vision tower's patches
# told where they are. With transformers' defaults (std 0.02) the model attends uniformly,
# passes image features on at ~1/20 of their size and cannot learn where a shape is.
BASE_BUILD: dict[str, Any] = {
    "seed": 0,
    "image_size": 56,
    "hidden_size": HIDDEN_SIZE,
    "text_init_std": HIDDEN_SIZE**-0.5,
    "vision_position_std": 0.3,
}


@dataclass(frozen=True)
class Baseline:
    entry: str
    method: str
    train_as: str
    family: str
    uses_replay: bool
    description: str


BASELINES = (
    Baseline(
        "seq-lora-tiny",
        "Sequential LoRA",
        "seq-lora",
        "lora-sequential",
        False,
        "One LoRA adapter (+ output layer) trained on each task in turn.",
    ),
    Baseline(
        "seq-lora-replay-tiny",
        "Sequential LoRA + replay",
        "seq-lora-replay",
        "replay",
        True,
        "Sequential LoRA with 30 items of every earlier task mixed into each batch.",
    ),
    Baseline(
        "joint-lora-tiny",
        "Joint multi-task LoRA (upper bound)",
        "joint",
        "joint",
        False,
        "One adapter trained on all four tasks at once, evaluated at every step.",
    ),
)


def _stamp(folder: Path) -> dict[str, Any] | None:
    path = folder / "trained.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _build_base(folder: Path, log: Callable[[str], None]) -> Path:
    from benchmark.demo.tiny_models import build_tiny_llava

    stamp = folder.with_name(folder.name + ".json")  # the arguments it was built with
    wanted = json.dumps(BASE_BUILD, sort_keys=True)
    if (folder / "config.json").is_file() and stamp.is_file() and stamp.read_text() == wanted:
        return folder
    log(f"building the tiny base model in {folder}")
    tmp = folder.with_name(folder.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    build_tiny_llava(tmp, **BASE_BUILD)
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    stamp.write_text(wanted)
    return folder


def _train(
    baseline: Baseline,
    entry: Path,
    order: list[str],
    config: TrainConfig,
    log: Callable[[str], None],
) -> list[str]:
    """Train (or reuse) the baseline's checkpoints; their paths relative to the entry."""
    folder = entry / CHECKPOINTS
    base = _build_base(folder / "base", log)
    hashes = read_manifest(SUITE)["task_hashes"]
    data = {task: hashes[task] for task in order}
    fingerprint = config.fingerprint(baseline.train_as, order, content_hash(base), data)
    stamp = _stamp(folder)
    if stamp is not None and stamp.get("fingerprint") == fingerprint:
        log(f"{baseline.entry}: reusing trained checkpoints in {folder}")
        return stamp["checkpoints"]
    log(f"{baseline.entry}: training {baseline.method} on {' → '.join(order)}")
    data_dir = suite_data_dir(SUITE)
    tasks = [
        (t, examples_of(read_records(records_path(SUITE, t, "train")), data_dir)) for t in order
    ]
    saved = train_sequence(baseline.train_as, base, tasks, folder / "adapters", config, log=log)
    paths = [p.relative_to(entry).as_posix() for p in saved]
    (folder / "trained.json").write_text(
        json.dumps({"fingerprint": fingerprint, "checkpoints": paths}, indent=1)
    )
    return paths


def _write_submission(
    baseline: Baseline, entry: Path, order: list[str], paths: list[str], config: TrainConfig
) -> None:
    from benchmark.demo.tiny_models import count_parameters

    path = entry / "submission.yaml"
    existing = yaml.safe_load(path.read_text()) if path.is_file() else {}
    data = {
        "name": baseline.entry,
        "method": baseline.method,
        "method_family": baseline.family,
        "suite": SUITE,
        "suite_version": load_suite(SUITE).version,
        "order": "default",
        "base_model": {
            "id": "mllmcl-bench/tiny-llava",
            "path": f"{CHECKPOINTS}/base",
            "parameters": count_parameters(entry / CHECKPOINTS / "base"),
        },
        "checkpoints": [
            {"step": i, "task": task, "kind": "lora", "path": p}
            for i, (task, p) in enumerate(zip(order, paths, strict=True), start=1)
        ],
        "uses_replay": baseline.uses_replay,
        "replay_buffer": config.replay_per_task if baseline.uses_replay else None,
        "task_id_at_inference": False,
        "extra_data": None,
        "code": "https://github.com/mllmcl-bench/mllmcl-bench",
        "license": "apache-2.0",
        "date": existing.get("date", date.today().isoformat()),
        "notes": f"{baseline.description} Built by `mllmcl-bench demo`: tiny model, "
        f"{config.joint_steps_per_task if baseline.train_as == 'joint' else config.steps_per_task}"
        f" steps per task, batch {config.batch_size}, "
        f"lr {config.learning_rate}, LoRA rank {config.lora_rank}, seed {config.seed}.",
    }
    entry.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def run_demo(
    *,
    submissions: Path = Path("submissions"),
    site_out: Path = Path("leaderboard/_site"),
    config: TrainConfig | None = None,
    batch_size: int = 16,
    log: Callable[[str], None] = print,
) -> str:
    """Run the whole pipeline; return the text to print at the end."""
    started = time.perf_counter()
    from benchmark.generation.compat import check_libraries

    check_libraries("train and evaluate the demo baselines")
    config = config or TrainConfig()
    suite = load_suite(SUITE)
    ensure_prepared(suite)
    order = suite.order()
    summaries = []
    for baseline in BASELINES:
        entry = submissions / SUITE / baseline.entry
        entry.mkdir(parents=True, exist_ok=True)
        paths = _train(baseline, entry, order, config, log)
        _write_submission(baseline, entry, order, paths, config)
        log(f"{baseline.entry}: evaluating on the full {len(order) + 1}×{len(order)} matrix")
        outcome = evaluate_entry(entry, backend="hf", batch_size=batch_size)
        summaries.append(
            f"== {baseline.entry} ({baseline.method})\n{summary_text(outcome.results)}"
        )
    from benchmark.site.render import site_build

    index = site_build(submissions, site_out)
    table = leaderboard_table(submissions / SUITE)
    elapsed = time.perf_counter() - started
    return "\n\n".join(
        [
            *summaries,
            "== leaderboard (shapes)\n" + table,
            f"site: {index.resolve()}  (open it in a browser: file://{index.resolve()})",
            f"demo finished in {elapsed:.0f} s",
        ]
    )


def leaderboard_table(suite_dir: Path) -> str:
    """A plain-text leaderboard of the entries under one suite folder (the metric table's
    leaderboard columns, ranked by the first of them)."""
    columns = [d.key for d in metric_table() if d.leaderboard]
    rows = []
    for entry in sorted(p for p in suite_dir.iterdir() if (p / "results.json").is_file()):
        results = json.loads((entry / "results.json").read_text())
        metrics = results["metrics"]

        def cell(name: str, metrics: dict[str, Any] = metrics) -> str:
            value, ci = metrics[name]["value"], metrics[name]["ci95"]
            if value is None:
                return "—"
            return f"{value:6.1f} [{ci[0]:.1f}, {ci[1]:.1f}]" if ci else f"{value:6.1f}"

        rows.append((entry.name, *(cell(key) for key in columns)))
    rows.sort(key=lambda r: -float(r[1].split()[0]) if r[1] != "—" else 0.0)
    header = ("entry", *columns)
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True))
        for row in [header, *rows]
    ]
    return "\n".join(line.rstrip() for line in lines)
