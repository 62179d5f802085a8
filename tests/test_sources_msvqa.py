"""MSVQA prepared from a mirror in the layout we define (the real one is unknown), and the
YAML knobs that adapt it: file templates, record selection, field names, the F1 variant."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from mirrors import SCENARIOS, SHA, FakeHub, assert_golds_score, msvqa_mirror, prepared

from benchmark.errors import SourceError
from benchmark.paths import TASKS_ENV
from benchmark.suites.prepare import prepare_suite, records_path
from benchmark.suites.records import read_records
from benchmark.suites.registry import load_suite

SUITE_FILE = Path(__file__).parents[1] / "tasks" / "msvqa.yaml"


def _edited_suite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edit) -> None:
    data = yaml.safe_load(SUITE_FILE.read_text())
    edit(data)
    folder = tmp_path / "suites"
    folder.mkdir(exist_ok=True)
    (folder / "msvqa.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    monkeypatch.setenv(TASKS_ENV, str(folder))


def test_msvqa_from_mirror(home: Path, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    expected = msvqa_mirror(mirror)
    suite = load_suite("msvqa")
    assert suite.status == "unverified" and len(suite.order()) == 20
    assert all(len(suite.order(f"five-step-{s}")) == 5 for s in SCENARIOS)
    manifest = prepare_suite(suite, from_dir=mirror)
    assert prepared(home, "msvqa") == expected
    assert assert_golds_score(home, "msvqa") == 40
    assert manifest["counts"]["indoor-5"] == {"train": 2, "test": 2}
    record = read_records(records_path("msvqa", "high-1"))[0]
    assert record.question == (
        "How many planes are there? Answer the question using a single word or phrase."
    )
    assert record.images == ("images/high_altitude/images/high0.png",)
    assert record.meta_dict["source_file"] == "high_altitude/step1/test.json"


def test_msvqa_through_the_hub_path(home: Path, tmp_path: Path, monkeypatch) -> None:
    mirror = tmp_path / "upstream"
    expected = msvqa_mirror(mirror)
    fake = FakeHub(tmp_path / "hf-cache", {"Kaij00/MSVQA": mirror})
    monkeypatch.setattr("huggingface_hub.snapshot_download", fake)
    suite = load_suite("msvqa")
    suite = suite.model_copy(update={"source": suite.source.model_copy(update={"revision": SHA})})
    manifest = prepare_suite(suite)
    assert fake.calls == [
        {"repo_id": "Kaij00/MSVQA", "repo_type": "dataset", "revision": SHA, "allow_patterns": None}
    ]
    assert prepared(home, "msvqa") == expected
    assert manifest["source"]["upstream"][0]["origin"] == "hub"


def test_f1_variant_is_chosen_in_the_yaml(home: Path, tmp_path: Path, monkeypatch) -> None:
    mirror = tmp_path / "mirror"
    msvqa_mirror(mirror)
    _edited_suite(tmp_path, monkeypatch, lambda d: d["source"]["options"].update(f1="set_f1"))
    prepare_suite(load_suite("msvqa"), from_dir=mirror)
    scorers = {r.scorer for r in read_records(records_path("msvqa", "low-2"))}
    assert scorers == {"vqa_accuracy", "set_f1"}


def test_other_layout_fixed_in_yaml(home: Path, tmp_path: Path, monkeypatch) -> None:
    """One JSON-lines file per scenario with a `step` field and renamed fields."""
    mirror = tmp_path / "mirror"
    msvqa_mirror(mirror)
    other = tmp_path / "other"
    for scenario in SCENARIOS.values():
        shutil.copytree(mirror / scenario / "images", other / scenario / "images")
        for split in ("train", "test"):
            lines = []
            for step in range(1, 6):
                for item in json.loads(
                    (mirror / scenario / f"step{step}" / f"{split}.json").read_text()
                ):
                    item["prompt"] = item.pop("question")
                    lines.append(json.dumps({**item, "step": step}))
            (other / scenario / f"{split}.jsonl").write_text("\n".join(lines) + "\n")

    def edit(data: dict) -> None:
        data["source"]["options"]["layout"] = "{scenario}/{split}.jsonl"
        for task in data["tasks"].values():
            task["fields"] = {"question": "prompt"}
            task["options"]["select"] = {"step": task["options"]["step"]}

    _edited_suite(tmp_path, monkeypatch, edit)
    expected = msvqa_mirror(tmp_path / "again")
    prepare_suite(load_suite("msvqa"), from_dir=other)
    assert prepared(home, "msvqa") == expected


def test_msvqa_wrong_layout_names_the_file(home: Path, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    msvqa_mirror(mirror)
    (mirror / "underwater/step3/test.json").unlink()
    with pytest.raises(SourceError) as info:
        prepare_suite(load_suite("msvqa"), from_dir=mirror)
    assert str(info.value).startswith(
        "underwater/step3/test.json: not found; expected the underwater-3 test records there; "
        "underwater/step3 holds: train.json"
    )


def test_grounding_item_without_boxes(home: Path, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    msvqa_mirror(mirror)
    path = mirror / "indoor/step1/train.json"
    items = json.loads(path.read_text())
    items[1]["answer"] = None
    path.write_text(json.dumps(items))
    with pytest.raises(SourceError, match=r"^indoor/step1/train\.json: record 1: grounding "):
        prepare_suite(load_suite("msvqa"), from_dir=mirror)
