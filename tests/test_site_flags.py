"""The leaderboard shows a suite's contamination flag on the entries whose base model was
trained on a task's data, and the caption metrics behind a caption cell's Average."""

from __future__ import annotations

import json
from pathlib import Path

from markupsafe import escape
from sitefixtures import write_entry

from benchmark.site.render import site_build

TASKS = ["scienceqa", "gqa", "captions"]
NOTE = "in LLaVA-1.5's instruction data (llava_v1_5_mix665k)"
CAPTION = {
    "Bleu_1": 61.5,
    "Bleu_2": 45.2,
    "Bleu_3": 33.0,
    "Bleu_4": 24.1,
    "METEOR": 22.7,
    "ROUGE_L": 48.9,
    "CIDEr": 71.3,
    "Average": 43.814286,
}


def _board(tmp_path: Path) -> Path:
    subs = tmp_path / "subs"
    flagged = write_entry(
        subs,
        "on-llava",
        suite="coin",
        tasks=TASKS,
        base_model="liuhaotian/llava-v1.5-7b",
        results={"contamination": {"gqa": NOTE}},
    )
    write_entry(subs, "on-vicuna", suite="coin", tasks=TASKS, base_model="lmsys/vicuna-7b-v1.5")
    # a caption cell: the matrix holds the Average, the seven metrics sit in the cell
    results = (flagged / "results.json").read_text()
    data = json.loads(results)
    for cell in data["cells"]:
        if cell["task"] == "captions" and cell["step"] == 3:
            cell["metrics"] = CAPTION
            cell["accuracy"] = CAPTION["Average"]
            data["matrix"][3][2] = CAPTION["Average"]
    (flagged / "results.json").write_text(json.dumps(data, indent=1))
    return site_build(subs, tmp_path / "out").parent


def test_contamination_flag_on_affected_entries_only(tmp_path: Path) -> None:
    site = _board(tmp_path)
    index = (site / "index.html").read_text()
    rows = {
        name: index.split(f'data-name="{name}"')[1].split("</tr>")[0]
        for name in ("on-llava", "on-vicuna")
    }
    assert "contaminated: gqa" in rows["on-llava"] and escape(NOTE) in rows["on-llava"]
    assert "contaminated" not in rows["on-vicuna"]
    entry = (site / "coin-v1" / "on-llava.html").read_text()
    assert "contaminated: gqa" in entry
    gqa = (site / "coin-v1" / "tasks" / "gqa.html").read_text()
    row = gqa.split('data-name="on-llava"')[1].split("</tr>")[0]
    assert "contaminated" in row and escape(NOTE) in row
    other = gqa.split('data-name="on-vicuna"')[1].split("</tr>")[0]
    assert "contaminated" not in other
    scienceqa = (site / "coin-v1" / "tasks" / "scienceqa.html").read_text()
    assert "contaminated</span>" not in scienceqa.split('data-name="on-llava"')[1].split("</tr>")[0]


def test_caption_cells_show_their_metrics(tmp_path: Path) -> None:
    site = _board(tmp_path)
    entry = (site / "coin-v1" / "on-llava.html").read_text()
    assert "Caption metrics (1 cells)" in entry
    table = entry.split("Caption metrics")[1].split("</table>")[0]
    for value in ("61.5", "45.2", "33.0", "24.1", "22.7", "48.9", "71.3", "43.8"):
        assert f">{value}<" in table
    assert "Average of BLEU-1 61.5, BLEU-2 45.2, BLEU-3 33.0, BLEU-4 24.1, METEOR 22.7" in entry
    task = (site / "coin-v1" / "tasks" / "captions.html").read_text()
    row = task.split('data-name="on-llava"')[1].split("</tr>")[0]
    assert "ROUGE-L 48.9, CIDEr 71.3" in row and "avg of 7" in row
