"""submission.yaml: the schema, checkpoint references, and clear errors naming the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from benchmark.entry.results import results_json_schema
from benchmark.entry.submission import (
    SubmissionError,
    load_submission,
    resolve_local,
    submission_json_schema,
)

SHA = "0123456789abcdef0123456789abcdef01234567"
GOOD = {
    "name": "seq-lora-tiny",
    "method": "Sequential LoRA",
    "method_family": "lora-sequential",
    "suite": "shapes",
    "suite_version": 1,
    "base_model": {"id": "org/model", "revision": SHA},
    "checkpoints": [
        {"step": 1, "task": "colour", "kind": "lora", "path": "checkpoints/step-1"},
        {"step": 2, "task": "shape", "kind": "full", "path": f"hf://org/repo@{SHA}/step-2"},
    ],
    "uses_replay": True,
    "replay_buffer": 20,
    "paper": "https://arxiv.org/abs/2506.05453",
    "contact": "someone@example.org",
    "date": "2026-11-22",
}


def entry(tmp_path: Path, data: object) -> Path:
    (tmp_path / "submission.yaml").write_text(
        data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8"
    )
    return tmp_path


def test_good_submission_loads(tmp_path: Path) -> None:
    sub = load_submission(entry(tmp_path, GOOD))
    assert sub.order == "default" and sub.verified
    assert [c.kind for c in sub.checkpoints] == ["lora", "full"]
    assert str(sub.date) == "2026-11-22"


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"method_family": "magic"}, "method_family", "Input should be"),
        ({"name": "Bad Name!"}, "name", "should match pattern"),
        (
            {"checkpoints": [{"step": 1, "task": "colour", "kind": "lora", "path": "../x"}]},
            "checkpoints[0].path",
            "must not contain '..'",
        ),
        (
            {"checkpoints": [{"step": 1, "task": "colour", "kind": "lora", "path": "/etc"}]},
            "checkpoints[0].path",
            "must be relative",
        ),
        (
            {
                "checkpoints": [
                    {"step": 1, "task": "colour", "kind": "lora", "path": "hf://org/repo@main/x"}
                ]
            },
            "checkpoints[0].path",
            "pin the revision",
        ),
        (
            {"checkpoints": [{"step": 2, "task": "colour", "kind": "lora", "path": "a"}]},
            "(top level)",
            "steps must be 1..T in order",
        ),
        ({"checkpoints": []}, "(top level)", "or set predictions_only: true"),
        ({"uses_replay": True, "replay_buffer": None}, "(top level)", "replay_buffer"),
        ({"paper": "javascript:alert(1)"}, "paper", "https:// URL"),
        ({"contact": "not an email"}, "contact", "e-mail address"),
        ({"date": "yesterday"}, "date", "valid date"),
        ({"base_model": {"id": "x", "revision": "main"}}, "base_model.revision", "40-character"),
        ({"surprise": 1}, "surprise", "Extra inputs are not permitted"),
    ],
)
def test_bad_field_is_named(tmp_path: Path, change: dict, field: str, message: str) -> None:
    path = entry(tmp_path, {**GOOD, **change})
    with pytest.raises(SubmissionError) as info:
        load_submission(path)
    text = str(info.value)
    assert text.startswith(f"{path / 'submission.yaml'}: field {field}: "), text
    assert message in text


def test_yaml_with_python_tag_is_refused(tmp_path: Path) -> None:
    path = entry(tmp_path, "name: !!python/object/apply:os.system ['touch pwned']\n")
    with pytest.raises(SubmissionError, match="invalid YAML"):
        load_submission(path)
    assert not (tmp_path / "pwned").exists()


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SubmissionError, match="not found"):
        load_submission(tmp_path)


def test_symlink_out_of_the_entry_is_refused(tmp_path: Path) -> None:
    (tmp_path / "outside").mkdir()
    root = tmp_path / "entry"
    root.mkdir()
    (root / "inside").mkdir()
    (root / "link").symlink_to(tmp_path / "outside")
    assert resolve_local(root, "inside") == (root / "inside").resolve()
    with pytest.raises(SubmissionError, match="resolves outside the entry"):
        resolve_local(root, "link")


def test_json_schemas_are_exported_and_current() -> None:
    schemas = Path(__file__).resolve().parent.parent / "schemas"
    for name, schema in (
        ("submission.schema.json", submission_json_schema()),
        ("results.schema.json", results_json_schema()),
    ):
        committed = json.loads((schemas / name).read_text())
        assert committed == json.loads(json.dumps(schema)), (
            f"schemas/{name} is stale: run python -m benchmark.entry.schemas"
        )
