"""CoIN prepared from a mirror in the authors' layout (Instructions_Original/<Task>/test.json,
images under cl_dataset/), TextVQA's ten answers from their annotation file, grounding boxes,
the contamination flags for LLaVA-1.5 bases, and one-line errors for wrong layouts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from mirrors import COIN_TEXT, assert_broken_mirror_fails, coin_mirror, prepared
from tinyworld import tiny_entry_on_mirror, write_submission

from benchmark.entry.results import load_results
from benchmark.evaluation.run import evaluate_entry
from benchmark.scoring import score
from benchmark.suites.prepare import prepare_suite, records_path
from benchmark.suites.records import read_records
from benchmark.suites.registry import list_suites, load_suite

ORDER = ["scienceqa", "textvqa", "imagenet", "gqa", "vizwiz", "grounding", "vqav2", "ocrvqa"]


def test_coin_is_listed_with_its_order_and_contamination() -> None:
    suite = next(s for s in list_suites() if s.id == "coin")
    assert suite.order() == ORDER and suite.source.repo_id == "Zacks-Chen/CoIN"
    flagged = {"textvqa", "gqa", "grounding", "vqav2", "ocrvqa"}
    for base in ("liuhaotian/llava-v1.5-7b", "llava-hf/llava-1.5-7b-hf", "LLaVA-v1.5-13B"):
        assert set(suite.contaminated(base)) == flagged, base
    assert suite.contaminated("lmsys/vicuna-7b-v1.5") == {}  # CoIN's own base: Vicuna
    assert "llava_v1_5_mix665k" in suite.contaminated("liuhaotian/llava-v1.5-7b")["gqa"]


def test_coin_from_mirror(home: Path, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    expected = coin_mirror(mirror)
    manifest = prepare_suite(load_suite("coin"), from_dir=mirror)
    assert prepared(home, "coin") == expected
    assert manifest["counts"] == {t: {"test": 3} for t in ORDER}
    sqa = read_records(records_path("coin", "scienceqa"))
    assert sqa[0].question == COIN_TEXT["scienceqa"].removeprefix("<image>\n")
    assert sqa[0].answers == ("B",)  # option index 1 → B
    assert sqa[0].images == ("images/cl_dataset/ScienceQA/images/scienceqa0.png",)
    assert sqa[2].images == ()  # text-only question
    textvqa = read_records(records_path("coin", "textvqa"))[0]
    assert len(textvqa.answers) == 10
    assert manifest["task_files"]["textvqa"] == {
        name: manifest["raw_files"][name]
        for name in (
            "Instructions_Original/TextVQA/val.json",
            "cl_dataset/TextVQA/TextVQA_0.5.1_val.json",
        )
    }
    grounding = read_records(records_path("coin", "grounding"))[0]
    assert grounding.answers == ("[0.1, 0.2, 0.5, 0.9]",)
    assert grounding.meta_dict["size"] == "[640, 480]"
    # every gold, given as the prediction, scores full marks with its record's scorer
    for task in ORDER:
        for record in read_records(records_path("coin", task)):
            result = score(record.scorer, record.answers[0], record.answers, record.choices)
            if record.answers[0] == "Unanswerable" and task == "ocrvqa":
                assert result.value == 0.0  # OCR-VQA's rule: an Unanswerable output is wrong
            else:
                assert result.value > 0.5 and result.parse_ok, (record.uid, result)


def test_grounding_reads_the_whole_box() -> None:
    gold = ["[0.1, 0.2, 0.5, 0.9]"]
    # upstream reads text[1:-1] after removing brackets: "0.98" would become 0.9 and the
    # box [0.1, 0.2, 0.5, 0.9] → IoU 1; read whole, this box overlaps too little
    assert score("coin_grounding", "[0.1, 0.2, 0.5, 0.98]", gold).value == 1.0  # IoU 0.89
    assert score("coin_grounding", "[0.45, 0.2, 0.9, 0.9]", gold).value == 0.0
    assert score("coin_grounding", "The box is [0.1, 0.2, 0.5, 0.88].", gold).value == 1.0
    missing = score("coin_grounding", "the man on the left", gold)
    assert missing.value == 0.0 and not missing.parse_ok
    # the digit upstream drops matters: 0.35 read as 0.3 would pass; read whole it does not
    assert score("coin_grounding", "[0.1, 0.2, 0.5, 0.35]", gold).value == 0.0


@pytest.mark.parametrize(
    ("break_it", "message"),
    [
        (
            lambda m: shutil.rmtree(m / "Instructions_Original" / "GQA"),
            r"^Instructions_Original/GQA/test.json: not found; expected the gqa test records "
            r"there \(also looked for Instruction_Original/GQA/test.json, GQA/test.json\); "
            r"Instructions_Original holds: ",
        ),
        (
            lambda m: _drop(m / "Instructions_Original/Grounding/test.json", "answer_bbox"),
            r"^Instructions_Original/Grounding/test.json: record 0 has no field 'answer_bbox' "
            r"\(the gold answer\); found fields 'question_id', 'image', 'text', 'size'$",
        ),
        (
            lambda m: (m / "cl_dataset/TextVQA/TextVQA_0.5.1_val.json").write_text(
                json.dumps({"data": [{"question_id": 0, "answer": "coke"}]})
            ),
            r"^cl_dataset/TextVQA/TextVQA_0.5.1_val.json: data\[0\] has no field "
            r"'question_id' and 'answers'; found 'question_id', 'answer'$",
        ),
        (
            lambda m: _drop(m / "Instructions_Original/VQAv2/val.json", "text"),
            r"^Instructions_Original/VQAv2/val.json: record 0 has no field 'text' or "
            r"'question' \(the question\)",
        ),
    ],
    ids=["test-file", "grounding-box", "textvqa-answers", "question"],
)
def test_wrong_layouts_name_the_file_and_field(
    home: Path, tmp_path: Path, break_it, message: str
) -> None:
    assert_broken_mirror_fails("coin", coin_mirror, tmp_path / "mirror", break_it, message)


def _drop(path: Path, field: str) -> None:
    rows = json.loads(path.read_text())
    path.write_text(json.dumps([{k: v for k, v in r.items() if k != field} for r in rows]))


@pytest.mark.slow
def test_tiny_model_entry_on_coin(
    home: Path, world: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry, tasks = tiny_entry_on_mirror("coin", coin_mirror, world, tmp_path, monkeypatch)
    assert tasks == ORDER  # eight steps from the three adapters
    # a LLaVA-1.5 base by name: results.json records the tasks it was trained on
    write_submission(
        entry,
        "coin",
        ORDER,
        name="tiny-coin",
        base_model={"id": "tiny-llava-v1.5", "path": "model"},
    )
    evaluate_entry(entry, batch_size=3, cache_path=tmp_path / "c.sqlite", progress=False, n_boot=20)
    results = load_results(entry / "results.json")
    assert results.tasks == ORDER and len(results.matrix) == 9
    assert {c.task for c in results.cells} == set(ORDER)
    assert all(c.metrics is None for c in results.cells)
    assert set(results.contamination) == {"textvqa", "gqa", "grounding", "vqav2", "ocrvqa"}
    assert "contamination" in json.loads((entry / "results.json").read_text())
