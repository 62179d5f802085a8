"""submission.yaml: the schema, checkpoint references, and clear errors naming the field."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from benchmark.entry.results import results_json_schema
from benchmark.entry.submission import (
    SubmissionError,
    load_submission,
    parse_submission,
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


# --------------------------------------------------------------------------- issue 20: hostile text


def _at(data: dict, field: str, value: object) -> dict:
    """``data`` with ``field`` (a path such as ``base_model.id`` or ``checkpoints[0].task``) set."""
    data = json.loads(json.dumps(data))
    node = data
    parts = field.replace("[", ".").replace("]", "").split(".")
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node[part]
    node[parts[-1]] = value
    return data


INVISIBLE = {
    "arabic-letter-mark": "\u061c",
    "c1-csi": "\x9b",
    "line-separator": "\u2028",
    "paragraph-separator": "\u2029",
    "byte-order-mark": "\ufeff",
    "carriage-return": "\r",
    "soft-hyphen": "\u00ad",
    "tag-character": "\U000e0041",
    "private-use": "\ue000",
    "direction-isolate": "\u2066",
}
TEXT_FIELDS = (
    "method",
    "license",
    "extra_data",
    "notes",
    "base_model.id",
    "suite",
    "order",
    "checkpoints[0].task",
)


@pytest.mark.parametrize("char", INVISIBLE.values(), ids=INVISIBLE.keys())
@pytest.mark.parametrize("field", TEXT_FIELDS)
def test_invisible_characters_are_refused_in_every_text_field(field: str, char: str) -> None:
    with pytest.raises(SubmissionError) as info:
        parse_submission(_at(GOOD, field, f"ab{char}cd"), where="submission.yaml")
    assert str(info.value).startswith(
        f"submission.yaml: field {field}: contains control or invisible characters"
    ), str(info.value)


@pytest.mark.parametrize("field", TEXT_FIELDS)
def test_lone_surrogates_are_refused_in_every_text_field(field: str) -> None:
    """A JSON or YAML escape such as \\ud800 makes a string no file can hold."""
    with pytest.raises(SubmissionError, match=f"submission.yaml: field {re.escape(field)}: "):
        parse_submission(_at(GOOD, field, "ab\ud800cd"), where="submission.yaml")


@pytest.mark.parametrize("field", [f for f in TEXT_FIELDS if f != "notes"])
def test_line_breaks_only_in_notes(field: str) -> None:
    for text in ("two\nlines", "tab\there", "trailing newline\n"):
        with pytest.raises(SubmissionError, match=f"field {re.escape(field)}: contains control"):
            parse_submission(_at(GOOD, field, text), where="submission.yaml")
    notes = parse_submission({**GOOD, "notes": "two\nlines,\tand a tab\n"}, where="x").notes
    assert notes == "two\nlines,\tand a tab\n"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("contact", "someone@example.org\n"),
        ("paper", "https://arxiv.org/abs/2506.05453\n"),
        ("code", "https://github.com/x/y\n"),
        ("base_model.revision", SHA + "\n"),
        ("checkpoints[1].path", f"hf://org/repo@{SHA}/step-2\n"),
        ("base_model.path", "checkpoints/base\n"),
        ("name", "seq-lora-tiny\n"),
    ],
)
def test_a_trailing_newline_is_refused(tmp_path: Path, field: str, value: str) -> None:
    path = entry(tmp_path, _at(GOOD, field, value))
    with pytest.raises(SubmissionError, match=f"field {re.escape(field)}: "):
        load_submission(path)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("suite_version", True, "valid integer"),
        ("suite_version", 1.0, "valid integer"),
        ("suite_version", "1", "valid integer"),
        ("replay_buffer", True, "valid integer"),
        ("checkpoints[0].step", True, "valid integer"),
        ("base_model.parameters", 2**63, "less than or equal to"),
        ("base_model.parameters", True, "valid integer"),
        ("replay_buffer", 2**64, "less than or equal to"),
        ("suite_version", 10**6, "less than or equal to"),
        ("uses_replay", 1, "valid boolean"),
        ("method", b"bytes", "valid string"),
        ("checkpoints[0].sha256", "abc", "should match pattern"),
    ],
)
def test_numbers_and_flags_are_strict_and_bounded(field: str, value: object, message: str) -> None:
    data = _at(GOOD, field, 0) if isinstance(value, bytes) else _at(GOOD, field, value)
    if isinstance(value, bytes):
        data["method"] = value
    with pytest.raises(SubmissionError, match=f"field {re.escape(field)}: .*{message}"):
        parse_submission(data, where="submission.yaml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("method: !!binary U2VxdWVudGlhbCBMb1JB\n", "line 2: explicit YAML tag '!!binary'"),
        ("method: !!str Sequential\n", "line 2: explicit YAML tag '!!str'"),
        (
            "method: !shout Sequential\n",
            "line 2: invalid YAML (could not determine a constructor for the tag '!shout')",
        ),
        ("base_model: !!map {id: x}\n", "line 2: explicit YAML tag '!!map'"),
        ("method: ! Sequential\n", "line 2: explicit YAML tag '!'"),
        ("method: a\nmethod: b\n", "line 3: duplicate key 'method'"),
        ("base_model: {id: a, id: b}\n", "line 2: duplicate key 'id'"),
        ("method: &m a\nlicense: *m\n", "line 3: uses a YAML alias (*m)"),
        ("base_model:\n  <<: {id: a}\n", "line 3: merge key '<<'"),
    ],
)
def test_yaml_is_parsed_strictly(tmp_path: Path, text: str, message: str) -> None:
    path = entry(tmp_path, "name: seq-lora-tiny\n" + text)
    with pytest.raises(SubmissionError) as info:
        load_submission(path)
    assert str(info.value).startswith(f"{path / 'submission.yaml'}: {message}"), str(info.value)


def _schema_numbers(node: object, where: str = "") -> list[tuple[str, dict]]:
    found: list[tuple[str, dict]] = []
    if isinstance(node, dict):
        if node.get("type") in ("integer", "number"):
            found.append((where, node))
        for key, value in node.items():
            found += _schema_numbers(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _schema_numbers(value, f"{where}/{i}")
    return found


@pytest.mark.parametrize("schema", [submission_json_schema, results_json_schema])
def test_every_number_in_the_schemas_is_bounded(schema) -> None:
    """A number the site cannot show (beyond int64, inf) never passes the schema (issue 20)."""
    numbers = _schema_numbers(schema())
    assert numbers
    unbounded = [w for w, n in numbers if "minimum" not in n or "maximum" not in n]
    assert unbounded == []


def test_results_refuse_numbers_json_does_not_have(tmp_path: Path) -> None:
    from benchmark.entry.results import load_results

    for literal in ("1e999", "-1e999"):
        path = tmp_path / "results.json"
        path.write_text('{"provenance": {"wall_seconds": ' + literal + "}}")
        with pytest.raises(SubmissionError) as info:
            load_results(path)
        assert str(info.value) == (f"{path}: field provenance.wall_seconds: is not a finite number")
    path.write_text('{"schema": "mllmcl-bench/results/1", "schema": "other"}')
    with pytest.raises(SubmissionError, match="duplicate key 'schema'"):
        load_results(path)


def test_a_results_json_with_several_errors_names_the_first_and_counts_the_rest(
    tmp_path: Path,
) -> None:
    from benchmark.entry.results import load_results

    committed = Path(__file__).parent.parent / "submissions/shapes/seq-lora-tiny/results.json"
    data = json.loads(committed.read_text())
    data["order"] = 7
    data["matrix"] = "not a matrix"
    path = tmp_path / "results.json"
    path.write_text(json.dumps(data))
    with pytest.raises(SubmissionError) as info:
        load_results(path)
    assert re.fullmatch(rf"{re.escape(str(path))}: field order: .+ \(and 1 more\)", str(info.value))
