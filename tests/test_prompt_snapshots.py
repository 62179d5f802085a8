"""Prompt snapshots (issue 17): what a model is asked is part of a suite's definition.

For every suite in ``tasks/*.yaml`` (prepared offline: ``shapes`` from its generator, the
others from the upstream-shaped mirrors of ``tests/mirrors.py``) the exact rendered question
of a few fixed evaluation records, and for the tiny LLaVA model the chat-templated prompt,
are committed under ``tests/snapshots/``. A change to a prompt, a suffix or a separator fails
here: bump the suite's ``version`` with a ``changelog`` line saying why, then regenerate with

    MLLMCL_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest -q tests/test_prompt_snapshots.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from mirrors import (
    ability_mirror,
    coin_mirror,
    domain_mirror,
    msvqa_mirror,
    routing_mirror,
    ucit_mirror,
)

from benchmark.suites.prepare import prepare_suite
from benchmark.suites.records import read_records
from benchmark.suites.registry import load_suite

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
UPDATE = os.environ.get("MLLMCL_UPDATE_SNAPSHOTS") == "1"
PER_TASK = 2  # records per task and split, the first by uid

MIRRORS = {
    "mllm-cl-domain": domain_mirror,
    "mllm-cl-ability": ability_mirror,
    "routing": routing_mirror,
    "msvqa": msvqa_mirror,
    "ucit": ucit_mirror,
    "coin": coin_mirror,
    "shapes": None,  # generated, no mirror
}


def test_every_suite_has_a_snapshot_builder() -> None:
    assert sorted(MIRRORS) == sorted(p.stem for p in (ROOT / "tasks").glob("*.yaml"))


def _records(home: Path, suite_id: str) -> list[Any]:
    chosen = []
    for path in sorted((home / "suites" / suite_id).glob("*/*.parquet")):
        if path.stem == "train":
            continue
        chosen += sorted(read_records(path), key=lambda r: r.uid)[:PER_TASK]
    return chosen


@pytest.fixture(scope="module")
def tiny_processor(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from benchmark.demo.tiny_models import build_tiny_llava, load_tiny

    _, processor = load_tiny(build_tiny_llava(tmp_path_factory.mktemp("tiny") / "m", seed=0))
    return processor


def _snapshot(suite_id: str, home: Path, tmp_path: Path, processor: Any) -> dict[str, Any]:
    from benchmark.demo.tiny_models import chat_prompt

    suite = load_suite(suite_id)
    builder = MIRRORS[suite_id]
    if builder is None:
        prepare_suite(suite, home=home)
    else:
        builder(tmp_path / "mirror")
        prepare_suite(suite, from_dir=tmp_path / "mirror")
    records = _records(home, suite_id)
    assert records, f"{suite_id}: no evaluation records prepared"
    return {
        "suite": suite_id,
        "version": suite.version,
        "records": {
            r.uid: {
                "question": r.question,
                "choices": None if r.choices is None else list(r.choices),
                "tiny_llava_prompt": chat_prompt(processor, r.question, len(r.images)),
            }
            for r in records
        },
    }


@pytest.mark.parametrize("suite_id", sorted(MIRRORS))
def test_rendered_prompts_match_the_snapshot(
    suite_id: str, home: Path, tmp_path: Path, tiny_processor: Any
) -> None:
    current = _snapshot(suite_id, home, tmp_path, tiny_processor)
    path = SNAPSHOTS / f"prompts-{suite_id}.json"
    text = json.dumps(current, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
    if UPDATE:
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"{path} missing: run with MLLMCL_UPDATE_SNAPSHOTS=1 to create it"
    committed = json.loads(path.read_text(encoding="utf-8"))
    suite = load_suite(suite_id)
    assert any(c.version == suite.version for c in suite.changelog), (
        f"tasks/{suite_id}.yaml: version {suite.version} has no changelog line"
    )
    if committed["records"] != current["records"]:
        changed = sorted(
            uid
            for uid in committed["records"].keys() | current["records"].keys()
            if committed["records"].get(uid) != current["records"].get(uid)
        )
        how = (
            f"then regenerate tests/snapshots/prompts-{suite_id}.json with "
            "MLLMCL_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest -q "
            "tests/test_prompt_snapshots.py"
        )
        if committed["version"] == suite.version:
            pytest.fail(
                f"{suite_id}: the rendered prompts changed ({len(changed)} record(s), e.g. "
                f"{changed[0]}) but the suite version did not: bump `version` in "
                f"tasks/{suite_id}.yaml (now {suite.version}) and add a changelog line saying "
                f"what changed in the prompts, {how}"
            )
        pytest.fail(
            f"{suite_id}: version bumped to {suite.version}, but the prompt snapshot is still "
            f"that of version {committed['version']}: {how}"
        )
    assert committed["version"] == suite.version, (
        f"{suite_id}: tasks/{suite_id}.yaml is version {suite.version} but the prompt snapshot "
        f"records version {committed['version']}: regenerate it with MLLMCL_UPDATE_SNAPSHOTS=1"
    )
