"""Records: Parquet round trip, streaming, and validation errors that name file and record."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from benchmark.errors import RecordError
from benchmark.suites.records import (
    ARROW_SCHEMA,
    Record,
    check_records_file,
    iter_records,
    read_records,
    read_table,
    render_choices,
    write_records,
)

SCORERS = {"exact_match", "multiple_choice"}


def make(i: int, **changes: object) -> Record:
    record = Record.make(
        suite="toy",
        task="t1",
        split="test",
        upstream_id=str(i),
        images=[f"images/{i}.png"],
        question=f"What is {i}?",
        answers=[str(i)],
        scorer="exact_match",
        meta={"n": i, "note": "é"},
    )
    return Record(**{**{f: getattr(record, f) for f in record.__slots__}, **changes})


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    (tmp_path / "images").mkdir()
    for i in range(5):
        (tmp_path / "images" / f"{i}.png").write_bytes(b"png")
    return tmp_path


def raw_parquet(path: Path, records: list[Record]) -> Path:
    """Write records with pyarrow directly, bypassing the writer's checks (a malformed file)."""
    pq.write_table(pa.Table.from_pylist([r.to_row() for r in records], schema=ARROW_SCHEMA), path)
    return path


def test_round_trip_keeps_every_field(tmp_path: Path, data_dir: Path) -> None:
    records = [make(i) for i in range(5)]
    records[1] = make(1, choices=("yes", "no"), answers=("A",), scorer="multiple_choice")
    path = tmp_path / "t1" / "test.parquet"
    assert write_records(path, records, data_dir=data_dir, known_scorers=SCORERS) == 5
    back = read_records(path)
    assert back == records
    assert back[1].choices == ("yes", "no") and back[0].choices is None
    assert back[0].meta_dict == {"n": 0, "note": "é"}
    assert read_table(path).schema.equals(ARROW_SCHEMA)
    assert not list(tmp_path.rglob("*.partial"))


def test_streaming_reads_many_row_groups(tmp_path: Path) -> None:
    records = [make(i, images=()) for i in range(10_000)]
    path = tmp_path / "big.parquet"
    write_records(path, records)
    assert pq.ParquetFile(path).num_row_groups >= 2
    assert [r.uid for r in iter_records(path, batch_size=777)] == [r.uid for r in records]


def test_writing_is_byte_reproducible(tmp_path: Path) -> None:
    records = [make(i, images=()) for i in range(100)]
    write_records(tmp_path / "a.parquet", records)
    write_records(tmp_path / "b.parquet", records)
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()


def test_render_choices_letters_options() -> None:
    assert render_choices("Which?", ["x", "y", "z"]) == "Which?\nA. x\nB. y\nC. z"


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (
            lambda: [make(0), make(1), make(0)],
            "record 2: duplicate uid 'toy/t1/test/0' (first seen at record 0)",
        ),
        (
            lambda: [make(0), make(1, answers=())],
            "record 1 (uid 'toy/t1/test/1'): field 'answers' is empty",
        ),
        (
            lambda: [make(0), make(1, images=("images/missing.png",))],
            "image file 'images/missing.png' is missing",
        ),
        (
            lambda: [make(0, scorer="llm_judge")],
            "record 0 (uid 'toy/t1/test/0'): unknown scorer 'llm_judge'",
        ),
        (
            lambda: [make(0, uid="other/t1/test/0")],
            "uid must look like 'toy/t1/test/<upstream id>'",
        ),
        (lambda: [make(0, question="  ")], "field 'question' is empty"),
        (lambda: [make(0, choices=("only",))], "field 'choices' needs at least two options"),
        (lambda: [make(0, meta="{not json")], "field 'meta' is not valid JSON"),
        (lambda: [make(0, images=("../escape.png",))], "must be relative to the suite directory"),
    ],
    ids=[
        "duplicate-uid",
        "empty-answers",
        "missing-image",
        "unknown-scorer",
        "bad-uid",
        "empty-question",
        "one-choice",
        "bad-meta",
        "image-escapes",
    ],
)
def test_malformed_file_is_rejected_naming_file_and_record(
    tmp_path: Path, data_dir: Path, bad, message: str
) -> None:
    path = raw_parquet(tmp_path / "bad.parquet", bad())
    with pytest.raises(RecordError) as info:
        check_records_file(path, data_dir=data_dir, known_scorers=SCORERS)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


def test_writer_rejects_and_leaves_no_file(tmp_path: Path, data_dir: Path) -> None:
    path = tmp_path / "out.parquet"
    with pytest.raises(RecordError, match="duplicate uid"):
        write_records(path, [make(0), make(0)], data_dir=data_dir)
    assert not path.exists()
    assert not list(tmp_path.glob("*.partial"))


def test_not_a_records_file(tmp_path: Path) -> None:
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"this is not parquet")
    with pytest.raises(RecordError, match="not a readable Parquet file"):
        read_records(junk)
    other = tmp_path / "other.parquet"
    pq.write_table(pa.table({"uid": ["a"]}), other)
    with pytest.raises(RecordError, match="missing field"):
        read_records(other)
    with pytest.raises(RecordError, match="records file not found"):
        read_records(tmp_path / "absent.parquet")


def test_a_prepared_task_as_a_datasets_dataset(shapes_home, monkeypatch) -> None:
    from PIL import Image

    from benchmark.paths import HOME_ENV, TASKS_ENV
    from benchmark.suites.hf_datasets import load_task
    from benchmark.suites.prepare import records_path
    from benchmark.suites.records import read_records

    monkeypatch.setenv(HOME_ENV, str(shapes_home))
    monkeypatch.delenv(TASKS_ENV, raising=False)
    monkeypatch.chdir("/")  # image paths must not depend on the working directory
    ds = load_task("shapes", "colour")
    records = read_records(records_path("shapes", "colour"))
    assert len(ds) == len(records)
    assert ds[0]["uid"] == records[0].uid and ds[0]["question"] == records[0].question
    image = ds[0]["image"][0]
    assert isinstance(image, Image.Image) and image.size == (64, 64)
    assert ds.features["image"].feature.__class__.__name__ == "Image"  # decoded lazily
