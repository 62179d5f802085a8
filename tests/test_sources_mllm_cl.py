"""MLLM-CL Domain and Ability suites prepared from small upstream-shaped mirrors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from mirrors import FIN_SUFFIXES, ability_mirror, assert_golds_score, domain_mirror, prepared

from benchmark.errors import SourceError
from benchmark.paths import TASKS_ENV
from benchmark.suites.console import show_text
from benchmark.suites.prepare import prepare_suite, records_path
from benchmark.suites.records import read_records
from benchmark.suites.registry import load_suite


@pytest.fixture
def domain(tmp_path: Path) -> tuple[Path, dict]:
    mirror = tmp_path / "mirror"
    return mirror, domain_mirror(mirror)


def test_domain_from_mirror(home: Path, domain) -> None:
    mirror, expected = domain
    manifest = prepare_suite(load_suite("mllm-cl-domain"), from_dir=mirror)
    assert prepared(home, "mllm-cl-domain") == expected
    assert assert_golds_score(home, "mllm-cl-domain") == 11
    assert manifest["counts"]["sci"] == {"train": 2, "test": 4}
    assert manifest["source"]["verified"] is False
    # raw files: JSONs and archives (not their members), each with its sha256
    assert "Domain_data/RS/images.tar" in manifest["raw_files"]
    assert "Domain_data/Sci/image-00001.tar" in manifest["raw_files"]
    assert "Domain_data/Medical/data/images/m0.png" in manifest["raw_files"]
    assert all(len(h) == 64 for h in manifest["raw_files"].values())
    assert manifest["source"]["upstream"][0]["origin"] == "mirror"


def test_domain_questions_suffixes_and_images(home: Path, domain) -> None:
    mirror, _ = domain
    prepare_suite(load_suite("mllm-cl-domain"), from_dir=mirror)
    fin = {r.uid.rsplit("/", 1)[1]: r for r in read_records(records_path("mllm-cl-domain", "fin"))}
    assert fin["fin-0"].question == f"Will the price rise? {FIN_SUFFIXES[0]}"  # gold Yes/No
    assert fin["fin-1"].question.endswith(f"B. down {FIN_SUFFIXES[1]}")  # gold a letter
    med = read_records(records_path("mllm-cl-domain", "med"))
    assert med[0].question.endswith("? Answer the question with a single word (or phrase).")
    rs = read_records(records_path("mllm-cl-domain", "rs"))
    assert rs[0].question == "How many buildings are there?"  # no suffix for RS
    suite_dir = home / "suites" / "mllm-cl-domain"
    for record in rs + med:
        assert all((suite_dir / image).is_file() for image in record.images)
    train = read_records(records_path("mllm-cl-domain", "rs", "train"))
    assert train[0].question == "Train question 0 of rs?"  # <image> token removed, no suffix
    sci = {r.uid.rsplit("/", 1)[1]: r for r in read_records(records_path("mllm-cl-domain", "sci"))}
    assert json.loads(sci["sci-1"].meta)["sci_source"] == "MapQA"


def test_second_prepare_reuses_extracted_archives(
    home: Path, domain, monkeypatch: pytest.MonkeyPatch
) -> None:
    mirror, _ = domain
    suite = load_suite("mllm-cl-domain")
    first = prepare_suite(suite, from_dir=mirror)
    from benchmark.suites.sources import archives

    def no_extraction(*args, **kwargs):
        raise AssertionError("an unchanged archive was extracted again")

    monkeypatch.setattr(archives, "_extract_tar", no_extraction)
    monkeypatch.setattr(archives, "_extract_zip", no_extraction)
    second = prepare_suite(suite, from_dir=mirror)
    assert first["task_hashes"] == second["task_hashes"]
    assert first["raw_files"] == second["raw_files"]


def test_ability_from_mirror_with_annotations(home: Path, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    expected = ability_mirror(mirror)
    manifest = prepare_suite(load_suite("mllm-cl-ability"), from_dir=mirror)
    assert prepared(home, "mllm-cl-ability") == expected
    assert assert_golds_score(home, "mllm-cl-ability") == 8
    assert "mathvista/data/testmini-00000-of-00001.parquet" in manifest["raw_files"]
    assert "mmt-bench/MMT-Bench_ALL_MI_anno.tsv" in manifest["raw_files"]
    math = {
        r.uid.rsplit("/", 1)[1]: r for r in read_records(records_path("mllm-cl-ability", "math"))
    }
    assert math["testmini_1"].choices == ("A", "B", "C")
    assert math["testmini_2"].choices is None
    assert math["testmini_3"].meta_dict["precision"] == 1.0
    assert math["testmini_3"].meta_dict["answer_type"] == "float"
    gui = read_records(records_path("mllm-cl-ability", "gui"))
    assert gui[0].choices == ("(10, 20)", "(30, 40)", "(50, 60)")
    vp = read_records(records_path("mllm-cl-ability", "vp"))
    assert vp[0].meta_dict["type"] == "2D" and vp[0].meta_dict["task"] == "Count"
    # VP's training images came out of Ability_data/VP.tar.gz, merged with VP/train.json
    vp_train = read_records(records_path("mllm-cl-ability", "vp", "train"))
    assert vp_train[0].images == ("images/Ability_data/VP/images/vp_t0.png",)


def test_show_reports_counts_and_unverified_layout(home: Path, domain) -> None:
    mirror, _ = domain
    prepare_suite(load_suite("mllm-cl-domain"), from_dir=mirror)
    text = show_text("mllm-cl-domain")
    assert "NOT verified" in text and "revision not pinned" in text
    assert "items:    train 2, test 2" in text


# --------------------------------------------------------------------------- wrong layouts


def _fails(mirror: Path, suite: str = "mllm-cl-domain") -> str:
    with pytest.raises(SourceError) as info:
        prepare_suite(load_suite(suite), from_dir=mirror)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_missing_file_names_it_and_what_is_there(home: Path, domain) -> None:
    mirror, _ = domain
    (mirror / "Domain_data/RS/test.json").unlink()
    message = _fails(mirror)
    assert message.startswith("Domain_data/RS/test.json: not found; expected the rs test records")
    assert "RemoteSensing/test.json" in message
    assert "Domain_data/RS holds: images, train.json" in message


def test_renamed_field_names_file_field_and_fix(home: Path, domain, tmp_path, monkeypatch) -> None:
    mirror, _ = domain
    path = mirror / "Domain_data/RS/test.json"
    items = json.loads(path.read_text())
    path.write_text(
        json.dumps([{("prompt" if k == "text" else k): v for k, v in it.items()} for it in items])
    )
    message = _fails(mirror)
    assert message.startswith("Domain_data/RS/test.json: record 0 has no field 'text'")
    assert "'prompt'" in message and "tasks.rs.fields.question" in message
    # the fix lives in data: a field override in the suite YAML
    data = yaml.safe_load((Path(__file__).parents[1] / "tasks/mllm-cl-domain.yaml").read_text())
    data["tasks"]["rs"]["fields"] = {"question": "prompt"}
    suites = tmp_path / "suites"
    suites.mkdir()
    (suites / "mllm-cl-domain.yaml").write_text(yaml.safe_dump(data))
    monkeypatch.setenv(TASKS_ENV, str(suites))
    assert prepare_suite(load_suite("mllm-cl-domain"), from_dir=mirror)["counts"]["rs"]["test"] == 2


def test_truncated_json_names_the_file(home: Path, domain) -> None:
    mirror, _ = domain
    path = mirror / "Domain_data/AD/test.json"
    path.write_text(path.read_text()[:-20])
    message = _fails(mirror)
    assert message.startswith("Domain_data/AD/test.json: invalid JSON at character")
    assert "truncated" in message


def test_corrupt_image_names_the_image(home: Path, domain) -> None:
    mirror, _ = domain
    (mirror / "Domain_data/Medical/data/images/m1.png").write_bytes(b"\x89PNG not really")
    message = _fails(mirror)
    assert message.startswith("Domain_data/Medical/data/images/m1.png: not a readable image")


def test_missing_annotation_entry_names_both_files(home: Path, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    ability_mirror(mirror)
    path = mirror / "Ability_data/APP_test/test.json"
    items = json.loads(path.read_text())
    items[1]["question_id"] = "ALL_99"
    path.write_text(json.dumps(items))
    message = _fails(mirror, "mllm-cl-ability")
    assert message.startswith("Ability_data/APP_test/test.json: record 1 (id 'ALL_99') has no")
    assert "mmt-bench/MMT-Bench_ALL_MI_anno.tsv" in message


def test_image_path_escaping_the_folder_is_refused(home: Path, domain) -> None:
    mirror, _ = domain
    path = mirror / "Domain_data/Fin/test.json"
    items = json.loads(path.read_text())
    items[0]["image"] = "../../../etc/passwd"
    path.write_text(json.dumps(items))
    message = _fails(mirror)
    assert message.startswith("Domain_data/Fin/test.json: record 0: image path")
    assert "stay inside" in message
