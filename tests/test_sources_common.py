"""The loaders' shared pieces: the streaming JSON reader, row formats, field mapping."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmark.errors import SourceError, SuiteError
from benchmark.suites.sources import TaskRequest, common

records = st.lists(
    st.dictionaries(
        st.text(max_size=5),
        st.one_of(
            st.integers(),
            st.floats(allow_nan=False),
            st.text(max_size=30),
            st.none(),
            st.lists(st.text(max_size=3), max_size=3),
        ),
        max_size=4,
    ),
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(
    rows=records, chunk=st.integers(min_value=1, max_value=40), indent=st.sampled_from([None, 0, 2])
)
def test_json_array_streamed_in_any_chunk_size(tmp_path_factory, rows, chunk, indent) -> None:
    path = tmp_path_factory.mktemp("json") / "a.json"
    path.write_text(json.dumps(rows, indent=indent, ensure_ascii=False), encoding="utf-8")
    original = common._CHUNK
    common._CHUNK = chunk
    try:
        assert list(common.iter_json(path, "a.json")) == rows
    finally:
        common._CHUNK = original


@pytest.mark.parametrize("chunk", [1, 7, 1 << 20])
def test_json_lines_and_keyed_objects(tmp_path: Path, monkeypatch, chunk: int) -> None:
    monkeypatch.setattr(common, "_CHUNK", chunk)
    rows = [{"id": i, "text": "é" * i} for i in range(5)]
    (tmp_path / "a.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert list(common.iter_rows(tmp_path / "a.jsonl", "a.jsonl")) == rows
    (tmp_path / "b.json").write_text(json.dumps({str(r["id"]): r for r in rows}))
    assert [r["__key__"] for r in common.iter_rows(tmp_path / "b.json", "b")] == list("01234")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[{"a": 1}, {"a": 2', "character 18: Expecting ',' delimiter (the file is truncated)"),
        ('[{"a": 1}, {"a": "tru', "Unterminated string starting at (the file is truncated)"),
        ('[{"a": 1}', "expected ',' or ']' after an array item, found the end of the file"),
        ('[{"a": 1} {"a": 2}]', "expected ',' or ']' after an array item, found '{'"),
        ('[{"a": 1}] x', "expected nothing after the closing ']', found 'x'"),
        ('[{"a": , }]', "invalid JSON at character 7: Expecting value"),
        ("", "expected '[' (a JSON array) or '{' (JSON lines), found the end of the file"),
        ("[1, 2]", "record 0 is a JSON int; expected an object"),
        ('{"a": 1}', "an object whose values are not all objects"),
    ],
)
def test_bad_json_is_one_line_naming_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "x.json"
    path.write_text(text)
    with pytest.raises(SourceError) as info:
        list(common.iter_rows(path, "data/x.json"))
    assert str(info.value).startswith("data/x.json: ") and message in str(info.value)
    assert "\n" not in str(info.value)


def test_a_malformed_file_is_not_read_whole(tmp_path: Path, monkeypatch) -> None:
    """A syntax error far from the buffer end fails at once instead of reading on."""
    monkeypatch.setattr(common, "_CHUNK", 64)
    path = tmp_path / "x.json"
    path.write_text('[{"a": 1}, {"a": ]' + " " * 10_000 + "]")
    reads = []
    original = common._JsonStream._fill

    def counting(self):
        reads.append(1)
        return original(self)

    monkeypatch.setattr(common._JsonStream, "_fill", counting)
    with pytest.raises(SourceError, match="Expecting value"):
        list(common.iter_rows(path, "x.json"))
    assert len(reads) < 5


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(b'[{"a": "\xff\xfe"}]')
    with pytest.raises(SourceError, match=r"^x\.json: not UTF-8 text"):
        list(common.iter_rows(path, "x.json"))


def test_parquet_and_tsv_rows(tmp_path: Path) -> None:
    pq.write_table(pa.table({"id": [1, 2], "big": [b"x", b"y"]}), tmp_path / "a.parquet")
    assert list(common.iter_rows(tmp_path / "a.parquet", "a", columns=["id", "nope"])) == [
        {"id": 1},
        {"id": 2},
    ]
    (tmp_path / "b.tsv").write_text("index\tanswer\n1\tA\n2\tB\n")
    assert [r["answer"] for r in common.iter_rows(tmp_path / "b.tsv", "b")] == ["A", "B"]
    with pytest.raises(SourceError, match=r"^c\.xml: unknown file type"):
        list(common.iter_rows(tmp_path / "c.xml", "c.xml"))


def _task(**fields: str) -> TaskRequest:
    return TaskRequest(task="t", splits=("test",), scorer="exact_match", fields=fields)


def test_fields_defaults_alternatives_and_overrides() -> None:
    defaults = {"id": ("question_id", "id"), "question": "text"}
    fields = common.Fields.of_task(_task(), defaults)
    assert fields.get({"id": 3, "text": "q"}, "id", "f", 0) == 3
    overridden = common.Fields.of_task(_task(question="prompt"), defaults)
    assert overridden.get({"prompt": "p", "text": "q"}, "question", "f", 0) == "p"
    with pytest.raises(
        SourceError,
        match=r"^f: record 4 has no field 'prompt' \(the question\); "
        r"found fields 'text'",
    ):
        overridden.get({"text": "q"}, "question", "f", 4)
    with pytest.raises(SuiteError, match=r"tasks\.t\.fields: unknown name\(s\) qestion"):
        common.Fields.of_task(_task(qestion="x"), defaults)


def test_unique_ids_and_answers() -> None:
    unique = common.UniqueIds()
    assert [unique(x, i) for i, x in enumerate(["a", "b", "a"])] == [
        ("a", False),
        ("b", False),
        ("a@2", True),
    ]
    assert common.answers_of(["x", 3, None], "f", 0) == ("x", "3")
    with pytest.raises(SourceError, match=r"^f: record 2 has no gold answer"):
        common.answers_of([], "f", 2)
