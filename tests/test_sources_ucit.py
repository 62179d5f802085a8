"""UCIT prepared from mirrors in both of the authors' layouts (HiDe-LLaVA's and MCITlib's),
the reference captions joined by position as the authors' eval_caption.py does, a revised
captions file seen as another task hash, and one-line errors for wrong layouts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mirrors import (
    UCIT_CAPTION_PROMPT,
    UCIT_QA,
    assert_broken_mirror_fails,
    prepared,
    ucit_coco,
    ucit_mirror,
)

from benchmark.errors import SourceError
from benchmark.suites.console import show_text
from benchmark.suites.prepare import prepare_suite, records_path
from benchmark.suites.records import read_records
from benchmark.suites.registry import list_suites, load_suite

ORDER = ["imagenet-r", "arxivqa", "vizwiz-caption", "iconqa", "clevr-math", "flickr30k"]


def test_ucit_is_listed_with_its_order_and_scorers() -> None:
    suite = next(s for s in list_suites() if s.id == "ucit")
    assert suite.order() == ORDER
    assert {t.id: t.scorer for t in suite.tasks} == {
        **dict.fromkeys(["imagenet-r", "arxivqa", "iconqa", "clevr-math"], "exact_upper"),
        "vizwiz-caption": "coco_caption",
        "flickr30k": "coco_caption",
    }
    assert suite.source.repo_id == "MLLM-CL/UCIT" and suite.contaminated("llava-v1.5-7b") == {}


@pytest.mark.parametrize("layout", ["hide", "mcitlib"])
def test_ucit_from_mirror(home: Path, tmp_path: Path, layout: str) -> None:
    mirror = tmp_path / "mirror"
    expected = ucit_mirror(mirror, layout=layout)
    manifest = prepare_suite(load_suite("ucit"), from_dir=mirror)
    assert prepared(home, "ucit") == expected
    assert manifest["counts"] == {t: {"test": 3} for t in ORDER}
    qa = read_records(records_path("ucit", "imagenet-r"))[1]
    assert qa.question == UCIT_QA["imagenet-r"][0]  # the authors' text, sent as is
    assert qa.answers == ("Goldfish",)
    folder = "" if layout == "hide" else "UCIT/"
    assert qa.images == (f"images/{folder}datasets/ImageNet-R/test/img1.png",)
    caption = read_records(records_path("ucit", "flickr30k"))[0]
    assert caption.question == UCIT_CAPTION_PROMPT
    assert caption.meta_dict["image_id"] == 1
    test_file = f"{folder}Flickr30k/{'test_3000.json' if layout == 'hide' else 'test.json'}"
    refs = f"{folder}Flickr30k/val_coco_type_3000.json"
    assert manifest["task_files"]["flickr30k"] == {
        refs: manifest["raw_files"][refs],
        test_file: manifest["raw_files"][test_file],
    }


def _vizwiz(mirror: Path) -> Path:
    return mirror / "VizWiz" / "val_coco_type_3000.json"


def test_revised_captions_give_another_task_hash(home: Path, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    ucit_mirror(mirror)
    suite = load_suite("ucit")
    first = prepare_suite(suite, from_dir=mirror)
    coco = json.loads(_vizwiz(mirror).read_text())
    coco["annotations"][0]["caption"] = "A can of tomato soup on a counter."  # fixed in place
    _vizwiz(mirror).write_text(json.dumps(coco))
    second = prepare_suite(suite, from_dir=mirror)
    changed = {t for t in ORDER if first["task_hashes"][t] != second["task_hashes"][t]}
    assert changed == {"vizwiz-caption"}
    shown = show_text("ucit/vizwiz-caption")
    new_sha = second["raw_files"]["VizWiz/val_coco_type_3000.json"]
    assert f"read:     VizWiz/val_coco_type_3000.json (sha256 {new_sha})" in shown
    assert first["raw_files"]["VizWiz/val_coco_type_3000.json"] not in shown
    assert f"hash:     {second['task_hashes']['vizwiz-caption']}" in shown


def test_captions_for_fewer_images_than_questions_are_refused(home: Path, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    ucit_mirror(mirror)
    coco = json.loads(_vizwiz(mirror).read_text())  # as the hub held it before 2025-10-28
    coco["images"] = coco["images"][:-1]
    coco["annotations"] = [a for a in coco["annotations"] if a["image_id"] != 3]
    _vizwiz(mirror).write_text(json.dumps(coco))
    with pytest.raises(SourceError) as info:
        prepare_suite(load_suite("ucit"), from_dir=mirror)
    message = str(info.value)
    assert message.startswith("VizWiz/val_coco_type_3000.json: reference captions for 2 image")
    assert "VizWiz/test_3000.json has 3 questions" in message and "\n" not in message


def test_captions_in_another_order_are_refused(home: Path, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    ucit_mirror(mirror)
    coco = ucit_coco("vizwiz-caption", ["a/img0.png", "a/img2.png", "a/img1.png"])
    _vizwiz(mirror).write_text(json.dumps(coco))
    with pytest.raises(SourceError, match=r"image_id 2 is 'img2.png', but record 1 of "):
        prepare_suite(load_suite("ucit"), from_dir=mirror)


@pytest.mark.parametrize(
    ("break_it", "message"),
    [
        (
            lambda m: (m / "IconQA" / "test_3000.json").rename(m / "IconQA" / "questions.json"),
            r"^IconQA/test_3000.json: not found; expected the iconqa test records there "
            r"\(also looked for IconQA/test.json, .*\); IconQA holds: questions.json$",
        ),
        (
            lambda m: _rename_field(m / "ArxivQA" / "test_3000.json", "text", "prompt"),
            r"^ArxivQA/test_3000.json: record 0 has no field 'text' or 'question' \(the "
            r"question\); found fields 'question_id', 'image', 'prompt', 'answer'",
        ),
        (
            lambda m: _vizwiz(m).write_text(json.dumps({"images": []})),
            r"^VizWiz/val_coco_type_3000.json: expected a COCO caption file, one JSON object "
            r"with 'annotations'",
        ),
        (
            lambda m: _vizwiz(m).write_text(
                json.dumps({"annotations": [{"image_id": 1, "text": "a can"}]})
            ),
            r"^VizWiz/val_coco_type_3000.json: annotations\[0\] has no field 'image_id' and "
            r"'caption'; found 'image_id', 'text'$",
        ),
        (
            lambda m: (m / "datasets" / "CLEVR" / "test" / "img2.png").unlink(),
            r"^CLEVR/test_3000.json: record 2: image 'CLEVR/test/img2.png' not found under "
            r"datasets/, UCIT/datasets/, instructions/datasets/, the top folder$",
        ),
    ],
    ids=["test-file", "question-field", "coco-shape", "coco-field", "image"],
)
def test_wrong_layouts_name_the_file_and_field(
    home: Path, tmp_path: Path, break_it, message: str
) -> None:
    assert_broken_mirror_fails("ucit", ucit_mirror, tmp_path / "mirror", break_it, message)


def _rename_field(path: Path, old: str, new: str) -> None:
    rows = json.loads(path.read_text())
    path.write_text(json.dumps([{(new if k == old else k): v for k, v in r.items()} for r in rows]))
