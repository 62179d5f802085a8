"""The routing suite (a reconstruction): Parquet probes with embedded images written into the
suite directory, and specialised tasks delegated to the MLLM-CL loader."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from mirrors import FakeHub, assert_golds_score, prepared, routing_mirror
from PIL import Image

from benchmark.errors import SourceError
from benchmark.suites.prepare import prepare_suite, records_path
from benchmark.suites.records import read_records
from benchmark.suites.registry import load_suite
from benchmark.suites.sources.hub import UnpinnedRevisionWarning

REPOS = {
    "lmms-lab/ChartQA": "chartqa",
    "lmms-lab/DocVQA": "docvqa",
    "lmms-lab/MMBench": "mmbench",
    "MLLM-CL/MLLM-CL": "mllm-cl",
}


def test_routing_from_mirror(home: Path, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    expected = routing_mirror(mirror)
    suite = load_suite("routing")
    assert suite.status == "reconstruction" and suite.probes == ["chartqa", "docvqa", "mmbench"]
    manifest = prepare_suite(suite, from_dir=mirror)
    assert prepared(home, "routing") == expected
    assert assert_golds_score(home, "routing") == 20
    assert "chartqa/data/test-00000-of-00001.parquet" in manifest["raw_files"]
    assert "mllm-cl/Domain_data/RS/images.tar" in manifest["raw_files"]
    suite_dir = home / "suites" / "routing"
    mmbench = read_records(records_path("routing", "mmbench"))
    assert mmbench[1].question == (
        "Look closely.\nWhich shape?\nA. circle\nB. square\n"
        "Answer with the option's letter from the given choices directly."
    )
    assert mmbench[0].choices == ("red", "blue", "green") and mmbench[2].choices[-1] == "4"
    assert mmbench[2].question.startswith("How many?")  # the "nan" hint is dropped
    docvqa = read_records(records_path("routing", "docvqa"))
    assert docvqa[0].images == ("images/docvqa/test/101.png",)
    with Image.open(suite_dir / docvqa[0].images[0]) as image:
        assert image.size == (16, 16)
    assert docvqa[0].question.endswith("?\nAnswer the question using a single word or phrase.")
    chart = read_records(records_path("routing", "chartqa"))
    assert chart[1].meta_dict["type"] == "augmented_test"


def test_routing_through_the_hub_path(home: Path, tmp_path: Path, monkeypatch) -> None:
    mirror = tmp_path / "upstream"
    expected = routing_mirror(mirror)
    fake = FakeHub(tmp_path / "hf-cache", {repo: mirror / sub for repo, sub in REPOS.items()})
    monkeypatch.setattr("huggingface_hub.snapshot_download", fake)
    with pytest.warns(UnpinnedRevisionWarning):
        prepare_suite(load_suite("routing"))
    assert [(c["repo_id"], c["repo_type"], c["allow_patterns"]) for c in fake.calls] == [
        ("lmms-lab/ChartQA", "dataset", ["data/test-*.parquet"]),
        ("lmms-lab/DocVQA", "dataset", ["DocVQA/validation-*.parquet"]),
        ("lmms-lab/MMBench", "dataset", ["en/dev-*.parquet"]),
        ("MLLM-CL/MLLM-CL", "dataset", ["Domain_data/*"]),
    ]
    assert prepared(home, "routing") == expected


@pytest.mark.parametrize(
    ("column", "message"),
    [
        ("questionId", "record 0 has no field 'questionId' or 'question_id' (the id)"),
        ("answers", "record 0 has no field 'answers' or 'answer' (the answer)"),
    ],
)
def test_probe_with_a_renamed_column(home: Path, tmp_path: Path, column: str, message: str) -> None:
    mirror = tmp_path / "mirror"
    routing_mirror(mirror)
    path = mirror / "docvqa/DocVQA/validation-00000-of-00001.parquet"
    table = pq.read_table(path)
    pq.write_table(
        table.rename_columns([f"{n}_v2" if n == column else n for n in table.column_names]), path
    )
    with pytest.raises(SourceError) as info:
        prepare_suite(load_suite("routing"), from_dir=mirror)
    text = str(info.value)
    assert text.startswith(f"docvqa/DocVQA/validation-00000-of-00001.parquet: {message}")
    assert f"'{column}_v2'" in text and "\n" not in text


def test_probe_with_a_corrupt_embedded_image(home: Path, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    routing_mirror(mirror)
    path = mirror / "mmbench/en/dev-00000-of-00001.parquet"
    table = pq.read_table(path)
    images = table.column("image").to_pylist()
    images[2]["bytes"] = b"not an image"
    column = pa.array(images, type=table.schema.field("image").type)
    pq.write_table(table.set_column(table.column_names.index("image"), "image", column), path)
    with pytest.raises(
        SourceError,
        match=r"^mmbench/en/dev-00000-of-00001\.parquet: record 2: "
        r"embedded image: not a readable image",
    ):
        prepare_suite(load_suite("routing"), from_dir=mirror)


def test_truncated_parquet_names_the_file(home: Path, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    routing_mirror(mirror)
    path = mirror / "chartqa/data/test-00000-of-00001.parquet"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(
        SourceError,
        match=r"^chartqa/data/test-00000-of-00001\.parquet: not a "
        r"readable Parquet file",
    ):
        prepare_suite(load_suite("routing"), from_dir=mirror)
