"""Preparing a 100k-record MLLM-CL Domain mirror: records per second and peak memory.

Run: ``.venv/bin/python -m pytest tests/perf/test_prepare_perf.py -s -p no:cacheprovider``.
The prepare runs in a child process so its peak RSS is its own (``RUSAGE_CHILDREN``); the
mirror's JSON arrays are written one record at a time and read back as a stream.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mirrors import pack, write_images

from benchmark.paths import HOME_ENV, TASKS_ENV

TASKS = {
    "rs": "Domain_data/RS",
    "med": "Domain_data/Med",
    "ad": "Domain_data/AD",
    "sci": "Domain_data/Sci",
    "fin": "Domain_data/Fin",
}
TRAIN, TEST, IMAGES = 16_000, 4_000, 8  # per task: 5 × 20k = 100k records
LIMIT_RSS = 1 << 30


def _write_array(path: Path, items) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("[\n")
        for i, item in enumerate(items):
            handle.write((",\n" if i else "") + json.dumps(item))
        handle.write("\n]\n")


def build_mirror(root: Path) -> int:
    for task, folder in TASKS.items():
        base = root / folder
        names = [f"images/{'AI2D' if task == 'sci' else task}_{i}.png" for i in range(IMAGES)]
        write_images(base, names)
        pack(base, base / "images.tar", names)
        _write_array(
            base / "train.json",
            (
                {
                    "id": f"{task}-t{i}",
                    "image": names[i % IMAGES],
                    "conversations": [
                        {"from": "human", "value": f"<image>\nQuestion {i} about {task}?"},
                        {"from": "gpt", "value": f"answer {i % 97}"},
                    ],
                }
                for i in range(TRAIN)
            ),
        )
        _write_array(
            base / "test.json",
            (
                {
                    "question_id": f"{task}-{i}",
                    "image": names[i % IMAGES],
                    "text": f"Question {i} about {task}?",
                    "answer": "Yes" if i % 2 else "B",
                }
                for i in range(TEST)
            ),
        )
    return len(TASKS) * (TRAIN + TEST)


CHILD = textwrap.dedent("""
    import json, resource, sys, time
    from pathlib import Path
    from benchmark.suites.prepare import prepare_suite
    from benchmark.suites.registry import load_suite
    start = time.perf_counter()
    manifest = prepare_suite(load_suite("mllm-cl-domain"), from_dir=Path(sys.argv[1]))
    seconds = time.perf_counter() - start
    total = sum(n for splits in manifest["counts"].values() for n in splits.values())
    print(json.dumps({"records": total, "seconds": seconds,
                      "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
""")


@pytest.mark.perf
def test_prepare_100k_records_in_bounded_memory(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    expected = build_mirror(mirror)
    size = sum(p.stat().st_size for p in mirror.rglob("*.json"))
    env = {k: v for k, v in os.environ.items() if k != TASKS_ENV}
    env[HOME_ENV] = str(tmp_path / "home")
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(mirror)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    rss = figures["maxrss_kib"] * 1024
    rate = figures["records"] / figures["seconds"]
    print(
        f"\nprepare mllm-cl-domain: {figures['records']} records ({size / 2**20:.1f} MiB of JSON) "
        f"in {figures['seconds']:.1f} s = {rate:,.0f} records/s; peak RSS "
        f"{rss / 2**20:.0f} MiB (children max {children / 1024:.0f} MiB)"
    )
    assert figures["records"] == expected
    assert rss < LIMIT_RSS
