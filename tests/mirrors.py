"""Small mirror directories laid out like the upstream hub repos, for the source tests.

Each builder writes a few records per task (images drawn with Pillow, tar/zip archives
where upstream ships them) and returns what the prepared suite must contain:
``{task: {split: {upstream id: (answers, scorer)}}}``.
"""

from __future__ import annotations

import base64
import io
import json
import shutil
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from huggingface_hub.utils import filter_repo_objects
from PIL import Image, ImageDraw

Expected = dict[str, dict[str, dict[str, tuple[tuple[str, ...], str]]]]
PALETTE = [(200, 40, 40), (40, 160, 60), (40, 60, 200), (220, 200, 30), (130, 40, 170)]


def png_bytes(seed: int, size: int = 16) -> bytes:
    image = Image.new("RGB", (size, size), PALETTE[seed % len(PALETTE)])
    ImageDraw.Draw(image).rectangle((2, 2, 2 + seed % 10, 6), fill=(255, 255, 255))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def write_json(path: Path, payload: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1), encoding="utf-8")


def write_images(folder: Path, names: list[str], seed: int = 0) -> None:
    for i, name in enumerate(names):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(png_bytes(seed + i))


def pack(folder: Path, archive: Path, members: list[str]) -> None:
    """Pack ``folder/<member>`` files into a tar, tar.gz or zip archive, then remove them."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive, "w") as zf:
            for member in members:
                zf.write(folder / member, member)
    else:
        mode = "w:gz" if archive.name.endswith(".gz") else "w"
        with tarfile.open(archive, mode) as tar:
            for member in members:
                tar.add(folder / member, member)
    for member in members:
        (folder / member).unlink()


def evil_tar(path: Path, name: str = "../evil.png", *, link: str | None = None) -> None:
    """A tar archive with one member escaping the folder (or a symlink pointing out)."""
    data = png_bytes(1)
    with tarfile.open(path, "w") as tar:
        info = tarfile.TarInfo(name)
        if link is not None:
            info.type, info.linkname = tarfile.SYMTYPE, link
            tar.addfile(info)
        else:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def _conversation(q: str, a: str) -> list[dict[str, str]]:
    return [{"from": "human", "value": f"<image>\n{q}"}, {"from": "gpt", "value": a}]


# --------------------------------------------------------------------------- MLLM-CL Domain

DOMAIN = {
    # task: (folder, archive or None, test items (image, text, answer), scorer per item)
    "rs": (
        "Domain_data/RS",
        "images.tar",
        [
            ("images/r0.png", "How many buildings are there?", "3", "mllmcl_rs_ad"),
            ("images/r1.png", "Is there a road?", "yes", "mllmcl_rs_ad"),
        ],
    ),
    "med": (
        "Domain_data/Medical/data",
        None,
        [  # an older folder name, loose images
            ("images/m0.png", "Is this tissue normal?", "no", "mllmcl_med"),
            ("images/m1.png", "What organ is shown?", "liver", "mllmcl_med"),
        ],
    ),
    "ad": (
        "Domain_data/AD",
        "images.tar.gz",
        [
            (
                "images/a0.png",
                "What should the ego car do?",
                "Keep going straight.",
                "mllmcl_rs_ad",
            ),
        ],
    ),
    "sci": (
        "Domain_data/Sci",
        "image-0000{}.tar",
        [
            ("images/AI2D_1.png", "Which part is the root?\nA. x\nB. y", "A", "mllmcl_sci_exact"),
            (
                "images/MapQA_2.png",
                "Which states have the highest value?",
                "Texas, Ohio",
                "mllmcl_sci_mapqa_states",
            ),
            ("images/MapQA_3.png", "What is the value of Ohio?", "12", "mllmcl_substring"),
            ("images/TQA_4.png", "What is shown?", "B", "mllmcl_sci_exact"),
        ],
    ),
    "fin": (
        "Domain_data/Fin",
        "images.zip",
        [
            ("images/f0.png", "Will the price rise?", "Yes", "mllmcl_fin"),
            ("images/f1.png", "Which trend?\nA. up\nB. down", "B", "mllmcl_fin"),
        ],
    ),
}
FIN_SUFFIXES = (
    "Only answer with yes or no directly.",
    "Answer with the given letter directly, e.g., A, B, C, D.",
)


def _train_items(task: str, n: int) -> list[dict[str, Any]]:
    items = []
    for i in range(n):
        items.append(
            {
                "id": f"{task}-train-{i}",
                "image": f"images/{'AI2D' if task == 'sci' else task}_t{i}.png",
                "conversations": _conversation(f"Train question {i} of {task}?", f"answer {i}"),
            }
        )
    return items


def domain_mirror(root: Path, *, train: int = 2) -> Expected:
    """``Domain_data/<task>/{train.json, test.json, images}``; archives as listed above."""
    expected: Expected = {}
    for task, (folder, archive, tests) in DOMAIN.items():
        base = root / folder
        train_items = _train_items(task, train)
        test_items = [
            {"question_id": f"{task}-{i}", "image": image, "text": text, "answer": answer}
            for i, (image, text, answer, _) in enumerate(tests)
        ]
        write_json(base / "train.json", train_items)
        write_json(base / "test.json", test_items)
        names = [it["image"] for it in train_items] + [t[0] for t in tests]
        write_images(base, names, seed=len(task))
        if archive and "{}" in archive:  # several archives sharing the images/ folder
            half = len(names) // 2
            pack(base, base / archive.format(0), names[:half])
            pack(base, base / archive.format(1), names[half:])
        elif archive:
            pack(base, base / archive, names)
        expected[task] = {
            "train": {
                it["id"]: ((f"answer {i}",), _default_scorer(task))
                for i, it in enumerate(train_items)
            },
            "test": {
                f"{task}-{i}": ((answer,), scorer) for i, (_, _, answer, scorer) in enumerate(tests)
            },
        }
    return expected


def _default_scorer(task: str) -> str:
    return {
        "rs": "mllmcl_rs_ad",
        "med": "mllmcl_med",
        "ad": "mllmcl_rs_ad",
        "sci": "mllmcl_sci_exact",
        "fin": "mllmcl_fin",
    }[task]


# --------------------------------------------------------------------------- MLLM-CL Ability

HME = "Handwritten Mathematical Expression Recognition"


def _image_column(blobs: list[bytes], names: list[str]) -> pa.Array:
    return pa.array(
        [{"bytes": b, "path": n} for b, n in zip(blobs, names, strict=True)],
        type=pa.struct([("bytes", pa.binary()), ("path", pa.string())]),
    )


def mathvista_annotation(path: Path) -> dict[str, tuple[str, ...]]:
    """A MathVista testmini Parquet file (pid, answer, choices, types, precision, image)."""
    rows = [
        ("1", "B", ["A", "B", "C"], "multi_choice", "text", None),
        ("2", "12", None, "free_form", "integer", None),
        ("3", "1.5", None, "free_form", "float", 1.0),
    ]
    table = pa.table(
        {
            "pid": [r[0] for r in rows],
            "question": [f"q{r[0]}" for r in rows],
            "answer": [r[1] for r in rows],
            "choices": pa.array([r[2] for r in rows], type=pa.list_(pa.string())),
            "question_type": [r[3] for r in rows],
            "answer_type": [r[4] for r in rows],
            "precision": pa.array([r[5] for r in rows], type=pa.float64()),
            "unit": [None, None, "cm"],
            "decoded_image": _image_column([png_bytes(i) for i in range(3)], ["a", "b", "c"]),
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return {f"testmini_{r[0]}": (r[1],) for r in rows}


MMT_ANSWERS = "mmt-bench/MMT-Bench_ALL_MI_anno.tsv"  # the mllm-cl-ability suite's extra file


def mmt_annotation(path: Path) -> dict[str, str]:
    """MMT-Bench's released test annotations (index, question, A.., answer, category, and a
    base64 image column, which the loader drops)."""
    image = base64.b64encode(png_bytes(3)).decode()
    header = ["index", "question", "A", "B", "C", "D", "answer", "category", "image"]
    rows = [
        ["7", "Click the button", "(10, 20)", "(30, 40)", "(50, 60)", "", "B", "gui_nav", image],
        ["8", "Open the menu", "(1, 2)", "(3, 4)", "", "", "A", "gui_nav", image],
        ["9", "Unrelated", "x", "y", "", "", "A", "other", image],
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join("\t".join(r) for r in [header, *rows]) + "\n", encoding="utf-8")
    return {"ALL_7": "B", "ALL_8": "A"}


def ability_mirror(root: Path) -> Expected:
    """``Ability_data/<task>[_test]/...`` plus ``mathvista/`` and ``mmt-bench/`` annotations."""
    expected: Expected = {}
    ocr_tests = [
        {
            "question_id": "ocr-0",
            "image": "images/o0.png",
            "text": "What is written?",
            "answer": ["STOP", "stop sign"],
            "answer_type": "Scene Text-centric VQA",
        },
        {
            "question_id": "ocr-1",
            "image": "images/o1.png",
            "text": "Transcribe the formula.",
            "answer": "x^{2}+1",
            "answer_type": HME,
        },
    ]
    math_tests = [
        {
            "question_id": f"testmini_{i}",
            "image": f"images/mv{i}.png",
            "text": f"Math {i}?",
            "answer": "",
        }
        for i in (1, 2, 3)
    ]
    vp_tests = [
        {
            "question_id": "vp-0",
            "image": "img/2D/count/c0.png",
            "text": "How many cars?",
            "answer": "(B)",
            "type": "2D",
            "task": "Count",
        },
    ]
    gui_tests = [
        {"question_id": f"ALL_{i}", "image": f"images/g{i}.png", "text": f"GUI {i}?"}
        for i in (7, 8)
    ]
    layout = {
        "ocr": ("Ability_data/OCR", "Ability_data/OCR_test", ocr_tests),
        "math": ("Ability_data/Math", "Ability_data/math_test", math_tests),  # older name
        "vp": ("Ability_data/VP", "Ability_data/CV-Benchv2", vp_tests),  # older name
        "gui": ("Ability_data/APP", "Ability_data/APP_test", gui_tests),
    }
    for task, (train_dir, test_dir, tests) in layout.items():
        train_items = _train_items(task, 2)
        write_json(root / train_dir / "train.json", train_items)
        write_images(root / train_dir, [it["image"] for it in train_items], seed=3)
        write_json(root / test_dir / "test.json", tests)
        write_images(root / test_dir, [t["image"] for t in tests], seed=5)
    # VP's training images ship as VP.tar.gz next to the folder (members VP/images/...)
    pack(
        root / "Ability_data",
        root / "Ability_data" / "VP.tar.gz",
        [f"VP/images/vp_t{i}.png" for i in range(2)],
    )
    math_gold = mathvista_annotation(root / "mathvista/data/testmini-00000-of-00001.parquet")
    gui_gold = mmt_annotation(root / MMT_ANSWERS)
    expected["ocr"] = {
        "test": {
            "ocr-0": (("STOP", "stop sign"), "ocrbench"),
            "ocr-1": (("x^{2}+1",), "ocrbench_hme"),
        }
    }
    expected["math"] = {"test": {k: (v, "mathvista") for k, v in math_gold.items()}}
    expected["vp"] = {"test": {"vp-0": (("(B)",), "mllmcl_vp")}}
    expected["gui"] = {"test": {k: ((v,), "mmt_gui") for k, v in gui_gold.items()}}
    scorers = {"ocr": "ocrbench", "math": "mathvista", "vp": "mllmcl_vp", "gui": "mmt_gui"}
    for task in layout:
        expected[task]["train"] = {
            f"{task}-train-{i}": ((f"answer {i}",), scorers[task]) for i in range(2)
        }
    return expected


# --------------------------------------------------------------------------- MSVQA

SCENARIOS = {
    "high": "high_altitude",
    "underwater": "underwater",
    "low": "low_altitude",
    "indoor": "indoor",
}


def msvqa_mirror(root: Path) -> Expected:
    """``<scenario>/step<k>/{train,test}.json``; images in ``<scenario>/images/``."""
    expected: Expected = {}
    for short, scenario in SCENARIOS.items():
        write_images(root / scenario, [f"images/{short}{i}.png" for i in range(2)])
        for step in range(1, 6):
            task = f"{short}-{step}"
            expected[task] = {}
            for split in ("train", "test"):
                items = [
                    {
                        "question_id": f"{task}-{split}-0",
                        "image": f"images/{short}0.png",
                        "question": "How many planes are there?",
                        "answer": ["3", "3", "three"],
                        "type": "vqa",
                    },
                    {
                        "question_id": f"{task}-{split}-1",
                        "image": f"images/{short}1.png",
                        "question": "Locate the plane.",
                        "answer": [[1, 2, 10, 12]],
                        "type": "grounding",
                    },
                ]
                write_json(root / scenario / f"step{step}" / f"{split}.json", items)
                expected[task][split] = {
                    items[0]["question_id"]: (("3", "3", "three"), "vqa_accuracy"),
                    items[1]["question_id"]: (("[[1,2,10,12]]",), "detection_f1"),
                }
    return expected


# --------------------------------------------------------------------------- routing


def _parquet(path: Path, columns: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path)


def routing_mirror(root: Path) -> Expected:
    """``chartqa/``, ``docvqa/``, ``mmbench/`` Parquet files and ``mllm-cl/Domain_data``."""
    n = 3
    images = _image_column([png_bytes(i) for i in range(n)], [f"{i}.png" for i in range(n)])
    _parquet(
        root / "chartqa/data/test-00000-of-00001.parquet",
        {
            "type": ["human_test", "augmented_test", "human_test"],
            "question": ["What is the max?", "Which year?", "How many bars?"],
            "answer": ["42", "2019", "5"],
            "image": images,
        },
    )
    _parquet(
        root / "docvqa/DocVQA/validation-00000-of-00001.parquet",
        {
            "questionId": ["101", "102", "103"],
            "question": ["What is the date?", "Who signed?", "What is the total?"],
            "question_types": [["form"], ["handwritten"], ["table/list"]],
            "image": images,
            "docId": [1, 2, 3],
            "answers": [["1 May 1990", "May 1, 1990"], ["J. Smith"], ["$ 10"]],
        },
    )
    _parquet(
        root / "mmbench/en/dev-00000-of-00001.parquet",
        {
            "index": [5, 6, 7],
            "question": ["What colour?", "Which shape?", "How many?"],
            "hint": [None, "Look closely.", "nan"],
            "A": ["red", "circle", "1"],
            "B": ["blue", "square", "2"],
            "C": ["green", None, "3"],
            "D": [None, None, "4"],
            "answer": ["A", "B", "D"],
            "category": ["color", "shape", "count"],
            "image": images,
        },
    )
    domain = domain_mirror(root / "mllm-cl")
    expected: Expected = {task: domain[task] for task in domain}
    expected["chartqa"] = {
        "test": {f"{i:06d}": ((a,), "relaxed_accuracy") for i, a in enumerate(["42", "2019", "5"])}
    }
    expected["docvqa"] = {
        "test": {
            "101": (("1 May 1990", "May 1, 1990"), "anls"),
            "102": (("J. Smith",), "anls"),
            "103": (("$ 10",), "anls"),
        }
    }
    expected["mmbench"] = {
        "test": {
            "5": (("A",), "multiple_choice"),
            "6": (("B",), "multiple_choice"),
            "7": (("D",), "multiple_choice"),
        }
    }
    return expected


SHA = "0123456789abcdef0123456789abcdef01234567"


class FakeHub:
    """Stands in for ``huggingface_hub.snapshot_download``: copies the allowed files of a
    local folder into an HF-style cache (``datasets--org--name/snapshots/<sha>/``)."""

    def __init__(self, cache: Path, repos: dict[str, Path], resolved: str = SHA) -> None:
        self.cache, self.repos, self.resolved = cache, repos, resolved
        self.calls: list[dict[str, Any]] = []

    def __call__(self, repo_id: str, **kwargs: Any) -> str:
        self.calls.append({"repo_id": repo_id, **kwargs})
        source = self.repos[repo_id]
        revision = kwargs.get("revision") or self.resolved
        snapshot = self.cache / f"datasets--{repo_id.replace('/', '--')}" / "snapshots" / revision
        files = [p.relative_to(source).as_posix() for p in source.rglob("*") if p.is_file()]
        for rel in filter_repo_objects(files, allow_patterns=kwargs.get("allow_patterns")):
            (snapshot / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / rel, snapshot / rel)
        return str(snapshot)


def prepared(home: Path, suite: str) -> Expected:
    """What a prepared suite holds, in the shape the builders return (uids checked too)."""
    from benchmark.suites.records import read_records

    found: Expected = {}
    for path in sorted((home / "suites" / suite).glob("*/*.parquet")):
        task, split = path.parent.name, path.stem
        table: dict[str, tuple[tuple[str, ...], str]] = {}
        for record in read_records(path):
            prefix = f"{suite}/{task}/{split}/"
            assert record.uid.startswith(prefix), record.uid
            table[record.uid.removeprefix(prefix)] = (record.answers, record.scorer)
        found.setdefault(task, {})[split] = table
    return found


def assert_broken_mirror_fails(
    suite: str,
    build: Callable[[Path], Any],
    mirror: Path,
    break_it: Callable[[Path], Any],
    message: str,
) -> None:
    """A mirror written by ``build`` and then broken by ``break_it`` stops the suite's prepare
    with a SourceError matching ``message``."""
    import pytest

    from benchmark.errors import SourceError
    from benchmark.suites.prepare import prepare_suite
    from benchmark.suites.registry import load_suite

    build(mirror)
    break_it(mirror)
    with pytest.raises(SourceError, match=message):
        prepare_suite(load_suite(suite), from_dir=mirror)


def assert_golds_score(home: Path, suite: str) -> int:
    """Every prepared test record's own gold answer, given as the prediction, scores full
    marks with the record's scorer: the gold formats fit the scorers (boxes, option texts …)."""
    from benchmark.scoring import score
    from benchmark.suites.records import read_records

    checked = 0
    for path in sorted((home / "suites" / suite).glob("*/test.parquet")):
        for record in read_records(path):
            result = score(record.scorer, record.answers[0], record.answers, record.choices)
            full = result.value > 0.5 if record.scorer == "vqa_accuracy" else result.value == 1.0
            assert full and result.parse_ok, (record.uid, record.scorer, result)
            checked += 1
    return checked


# --------------------------------------------------------------------------- UCIT

UCIT_TASKS = {  # task id → (HiDe-LLaVA folder, MCITlib folder)
    "imagenet-r": ("ImageNet-R", "ImageNet-R"),
    "arxivqa": ("ArxivQA", "ArxivQA"),
    "vizwiz-caption": ("VizWiz", "VizWiz"),
    "iconqa": ("IconQA", "IconQA"),
    "clevr-math": ("CLEVR", "CLEVR-Math"),
    "flickr30k": ("Flickr30k", "Flickr30k"),
}
UCIT_CAPTIONS = ("vizwiz-caption", "flickr30k")
UCIT_QA = {
    "imagenet-r": ("What is the object in the image?\nAnswer the question using a single word "
                   "or phrase.", ["cat", "Goldfish", "pizza"]),
    "arxivqa": ("Which trend does the figure show?\nA. rising\nB. falling\nAnswer with the "
                "option's letter from the given choices directly.", ["A", "B", "A"]),
    "iconqa": ("How many shapes are there?\nAnswer the question using a single word or "
               "phrase.", ["3", "7", "two"]),
    "clevr-math": ("Subtract all red balls. How many objects are left?\nAnswer the question "
                   "using a single word or phrase.", ["4", "0", "9"]),
}  # fmt: skip
UCIT_REFERENCES = {
    "vizwiz-caption": [
        ["A can of soup on a kitchen counter.", "A red and white soup can."],
        ["A blurry photo of a computer keyboard.", "Keys of a black keyboard."],
        ["A bottle of shampoo held in a hand.", "A white plastic bottle."],
    ],
    "flickr30k": [
        ["A dog runs across the grass.", "A brown dog running in a park.", "A dog on grass."],
        ["Two men ride bicycles down a street.", "Cyclists on a city road."],
        ["A child jumps into a swimming pool.", "A kid splashing in the water."],
    ],
}
UCIT_CAPTION_PROMPT = "Describe the image briefly."


def ucit_mirror(root: Path, *, layout: str = "hide") -> Expected:
    """UCIT as the hub repo holds it: ``<Task>/test_3000.json`` (HiDe-LLaVA's names, layout
    "hide") or ``UCIT/<Task>/test.json`` with ``CLEVR-Math`` (MCITlib's, layout "mcitlib");
    caption tasks add ``val_coco_type_3000.json``; images under ``datasets/``."""
    base = root if layout == "hide" else root / "UCIT"
    test_name = "test_3000.json" if layout == "hide" else "test.json"
    expected: Expected = {}
    for t, (task, (hide_dir, mcit_dir)) in enumerate(UCIT_TASKS.items()):
        folder = hide_dir if layout == "hide" else mcit_dir
        records, table = [], {}
        images = [f"{folder}/test/img{i}.png" for i in range(3)]
        write_images(base / "datasets", images, seed=10 * t)
        for i, image in enumerate(images):
            qid = f"{folder.lower()}_{i}"
            if task in UCIT_CAPTIONS:
                refs = UCIT_REFERENCES[task][i]
                records.append({"question_id": qid, "image": image, "text": UCIT_CAPTION_PROMPT,
                                "answer": refs[0]})  # fmt: skip
                table[qid] = (tuple(refs), "coco_caption")
            else:
                prompt, golds = UCIT_QA[task]
                records.append({"question_id": qid, "image": image, "text": prompt,
                                "answer": golds[i]})  # fmt: skip
                table[qid] = ((golds[i],), "exact_upper")
        write_json(base / folder / test_name, records)
        if task in UCIT_CAPTIONS:
            write_json(base / folder / "val_coco_type_3000.json", ucit_coco(task, images))
        expected[task] = {"test": table}
    return expected


def ucit_coco(task: str, images: list[str]) -> dict[str, Any]:
    """A COCO caption file as the authors' eval_caption.py reads it: image ids 1..N in the
    test file's order, ``file_name`` the image's base name."""
    refs = UCIT_REFERENCES[task]
    return {
        "images": [{"id": i + 1, "file_name": Path(img).name} for i, img in enumerate(images)],
        "annotations": [
            {"id": 10 * i + k, "image_id": i + 1, "caption": caption}
            for i in range(len(images))
            for k, caption in enumerate(refs[i])
        ],
        "categories": [{"id": 1, "name": "captioning"}],
    }


# --------------------------------------------------------------------------- CoIN

COIN_TASKS = {  # task id → (folder, test file name, scorer)
    "scienceqa": ("ScienceQA", "test.json", "coin_sqa"),
    "textvqa": ("TextVQA", "val.json", "vqa_accuracy"),
    "imagenet": ("ImageNet", "test.json", "coin_imagenet"),
    "gqa": ("GQA", "test.json", "coin_gqa"),
    "vizwiz": ("VizWiz", "val.json", "exact_upper"),
    "grounding": ("Grounding", "test.json", "coin_grounding"),
    "vqav2": ("VQAv2", "val.json", "exact_upper"),
    "ocrvqa": ("OCRVQA", "test.json", "coin_ocrvqa"),
}
COIN_TEXT = {
    "scienceqa": "<image>\nContext: A bird sits on a branch.\nWhich is a vertebrate?\nA. worm\n"
                 "B. bird\nC. snail",
    "textvqa": "What brand is the bottle?\nAnswer the question using a single word or phrase.",
    "imagenet": "What is the object in the image?\nAnswer the question using a single word or "
                "phrase.",
    "gqa": "Is the cup to the left of the plate?\nAnswer the question using a single word or "
           "phrase.",
    "vizwiz": "What is this?\nWhen the provided information is insufficient, respond with "
              "'Unanswerable'.\nAnswer the question using a single word or phrase.",
    "grounding": "Please provide the bounding box coordinate of the region this sentence "
                 "describes: the man on the left.",
    "vqav2": "How many dogs are there?\nAnswer the question using a single word or phrase.",
    "ocrvqa": "Who wrote this book?\nAnswer the question using a single word or phrase.",
}  # fmt: skip
COIN_ANSWERS = {
    "scienceqa": [1, "A", "C"],  # an option index (as problems.json has it) or a letter
    "imagenet": ["goldfish", "tabby cat", "pizza"],
    "gqa": ["yes", "no", "left"],
    "vizwiz": ["soup", "unanswerable", "keyboard"],
    "grounding": ["[0.1, 0.2, 0.5, 0.9]", "[0.0, 0.0, 0.25, 0.25]", "[0.4, 0.4, 0.8, 0.6]"],
    "vqav2": ["2", "yes", "red"],
    "ocrvqa": ["Jane Austen", "Mark Twain", "Unanswerable"],
}
TEXTVQA_ANSWERS = [["coca cola"] * 8 + ["coke"] * 2, ["nike"] * 10, ["10"] * 6 + ["ten"] * 4]


def coin_mirror(root: Path) -> Expected:
    """CoIN as its authors' scripts read it: ``Instructions_Original/<Task>/test.json`` (or
    ``val.json``), images under ``cl_dataset/``, TextVQA's ten answers in
    ``cl_dataset/TextVQA/TextVQA_0.5.1_val.json``."""
    expected: Expected = {}
    for t, (task, (folder, name, scorer)) in enumerate(COIN_TASKS.items()):
        images = [f"{folder}/images/{folder.lower()}{i}.png" for i in range(3)]
        write_images(root / "cl_dataset", images, seed=7 * t)
        records, table = [], {}
        for i, image in enumerate(images):
            qid = f"{i}" if task == "textvqa" else f"{folder.lower()}-{i}"
            record: dict[str, Any] = {"question_id": qid, "image": image, "text": COIN_TEXT[task]}
            if task == "scienceqa" and i == 2:
                del record["image"]  # a text-only ScienceQA question
            if task == "textvqa":
                gold = tuple(TEXTVQA_ANSWERS[i])
            elif task == "grounding":
                record |= {"answer_bbox": COIN_ANSWERS[task][i], "size": [640, 480]}
                gold = (COIN_ANSWERS[task][i],)
            else:
                record["answer"] = COIN_ANSWERS[task][i]
                value = COIN_ANSWERS[task][i]
                gold = ("ABCDE"[value],) if isinstance(value, int) else (value,)
            records.append(record)
            table[qid] = (gold, scorer)
        write_json(root / "Instructions_Original" / folder / name, records)
        expected[task] = {"test": table}
    write_json(
        root / "cl_dataset" / "TextVQA" / "TextVQA_0.5.1_val.json",
        {"dataset_name": "textvqa", "data": [
            {"question_id": i, "image_id": f"t{i}", "answers": answers}
            for i, answers in enumerate(TEXTVQA_ANSWERS)
        ]},
    )  # fmt: skip
    return expected
