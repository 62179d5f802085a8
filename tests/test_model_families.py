"""Tiny Qwen2.5-VL- and InternVL-shaped models (built offline) through the hf backend: a base
model and two LoRA steps, items with zero, one and two images.

Both families' processors need torchvision; without a usable one these tests skip (and fail
under CI, whose locked environment has it).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from benchmark.demo.tiny_families import (
    FAMILIES,
    IMAGE_PLACEHOLDERS,
    describe,
    torchvision_problem,
)
from benchmark.demo.tiny_models import adapter_targets, load_tiny, make_lora_adapter
from benchmark.generation.base import GenerationJob, ModelSpec, PromptItem, conversation

pytestmark = pytest.mark.slow

MAX_NEW_TOKENS = 6
PROCESSORS = {"qwen2_5_vl": "Qwen2_5_VLProcessor", "internvl": "InternVLProcessor"}
MODELS = {
    "qwen2_5_vl": "Qwen2_5_VLForConditionalGeneration",
    "internvl": "InternVLForConditionalGeneration",
}
# (question, images by name): lengths differ, so batches are left-padded
ITEMS = [
    ("What colour is the shape in the image? Answer with one word.", ("red",)),
    ("Which shape?", ()),
    ("What colour is the shape in the first image and the second? Answer with two words.",
     ("red", "wide")),
    ("How many shapes are in the image? Answer with a number.", ("tall",)),
    ("Is there a circle in this picture or a square?", ()),
    ("Which image shows a triangle?", ("tall", "wide")),
]  # fmt: skip
IMAGES = {"red": ((32, 32), "red"), "wide": ((48, 28), "blue"), "tall": ((28, 56), "green")}


@dataclass
class Family:
    name: str
    base: Path
    adapters: list[Path]
    items: list[PromptItem]


def _draw(path: Path, size: tuple[int, int], colour: str) -> Path:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", size, "white")
    w, h = size
    ImageDraw.Draw(image).ellipse((w // 6, h // 6, w - w // 6, h - h // 6), fill=colour)
    image.save(path)
    return path


def _hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(folder).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def family(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Family:
    problem = torchvision_problem()
    if problem is not None:
        if os.environ.get("CI"):  # the locked environment has torchvision: never skip there
            pytest.fail(f"{request.param} needs torchvision: {problem}")
        pytest.skip(f"{request.param} needs torchvision: {problem}")
    root = tmp_path_factory.mktemp(request.param)
    base = FAMILIES[request.param](root / "base", seed=0)
    adapters = [make_lora_adapter(base, root / f"step-{i}", seed=i) for i in (1, 2)]
    (root / "images").mkdir()
    paths = {
        name: _draw(root / "images" / f"{name}.png", size, colour)
        for name, (size, colour) in IMAGES.items()
    }
    items = [
        PromptItem(key=f"k{i}", uid=f"item-{i}", question=q, images=tuple(paths[n] for n in names))
        for i, (q, names) in enumerate(ITEMS)
    ]
    return Family(request.param, base, adapters, items)


def _specs(fam: Family) -> list[ModelSpec]:
    base = ModelSpec(0, "base", fam.base, fam.base, _hash(fam.base), "base")
    return [
        base,
        *(
            ModelSpec(i, "lora", path, fam.base, _hash(path), path.name)
            for i, path in enumerate(fam.adapters, start=1)
        ),
    ]


def _run(fam: Family, batch_size: int) -> dict[tuple[int, str], str]:
    from benchmark.generation.hf import HFBackend

    jobs = [GenerationJob(s.step, "t", s, MAX_NEW_TOKENS, list(fam.items)) for s in _specs(fam)]
    out: dict[tuple[int, str], str] = {}

    def sink(job: GenerationJob, batch, texts) -> None:
        assert len(batch) == len(texts) <= batch_size
        for item, text in zip(batch, texts, strict=True):
            out[(job.step, item.uid)] = text

    backend = HFBackend(device="cpu", batch_size=batch_size)
    try:
        backend.run(jobs, sink)
    finally:
        backend.close()
    assert len(out) == 3 * len(fam.items)
    return out


@pytest.fixture(scope="module")
def outputs(family: Family) -> dict[str, dict[tuple[int, str], str]]:
    return {"4": _run(family, 4), "4 again": _run(family, 4), "1": _run(family, 1)}


def test_builds_reload_with_the_auto_classes(family: Family) -> None:
    model, processor = load_tiny(family.base)
    assert type(processor).__name__ == PROCESSORS[family.name]
    assert type(model).__name__ == MODELS[family.name]
    assert processor.tokenizer.padding_side == "left"
    facts = describe(family.base)
    assert facts["model_type"] == family.name
    assert 300_000 < facts["parameters"] < 1_000_000
    # the same seed gives the same weights
    again = FAMILIES[family.name](family.base.parent / "again", seed=0)
    assert (again / "model.safetensors").read_bytes() == (
        family.base / "model.safetensors"
    ).read_bytes()


def test_adapters_touch_only_the_language_model(family: Family) -> None:
    for adapter in family.adapters:
        targets = adapter_targets(adapter)
        assert targets and all(".language_model." in t for t in targets), targets
        assert not any(("visual" in t) or ("vision" in t) for t in targets)


@pytest.mark.parametrize("n_images", [0, 1, 2])
def test_chat_template_renders_one_placeholder_per_image(family: Family, n_images: int) -> None:
    from benchmark.generation.hf import HFBackend

    _, processor = load_tiny(family.base)
    item = next(i for i in family.items if len(i.images) == n_images)
    prompts, images = HFBackend(device="cpu").render(processor, [item])
    assert len(images) == n_images
    placeholder = IMAGE_PLACEHOLDERS[family.name]
    assert prompts[0].count(placeholder) == n_images
    assert prompts[0] == processor.apply_chat_template(
        conversation(item.question, n_images), add_generation_prompt=True, tokenize=False
    )
    # the processor expands each placeholder into that image's own run of tokens
    tokens = processor.tokenizer.convert_ids_to_tokens(
        processor(text=prompts, images=images or None, return_tensors="pt")["input_ids"][0]
    )
    if family.name == "qwen2_5_vl":
        assert tokens.count("<|vision_start|>") == tokens.count("<|vision_end|>") == n_images
        assert (tokens.count("<|image_pad|>") > 0) == (n_images > 0)
    else:
        assert tokens.count("<img>") == tokens.count("</img>") == n_images
        assert tokens.count("<IMG_CONTEXT>") % 4 == 0 and (tokens.count("<IMG_CONTEXT>") > 0) == (
            n_images > 0
        )


def test_outputs_are_deterministic_and_independent_of_batch_size(outputs) -> None:
    assert outputs["4"] == outputs["4 again"]
    assert outputs["4"] == outputs["1"]


def test_adapters_change_outputs_and_differ_from_each_other(family: Family, outputs) -> None:
    got = outputs["4"]
    uids = [item.uid for item in family.items]
    assert all(got[(step, uid)] for step in (0, 1, 2) for uid in uids)  # words, not nothing
    for step in (1, 2):
        assert any(got[(step, uid)] != got[(0, uid)] for uid in uids), f"step {step} == base"
    assert any(got[(1, uid)] != got[(2, uid)] for uid in uids)
    # images matter: the two-image items do not all answer alike
    two = [item.uid for item in family.items if len(item.images) == 2]
    assert len({got[(0, uid)] for uid in two}) > 1 or len({got[(1, uid)] for uid in two}) > 1


@pytest.mark.parametrize("step", [1, 2])
def test_backend_equals_generate_with_the_adapter_merged(family: Family, outputs, step) -> None:
    """The backend attaches adapters with load_adapter; here peft merges them into the weights."""
    import torch
    from peft import PeftModel
    from PIL import Image

    model, processor = load_tiny(family.base)
    merged = PeftModel.from_pretrained(model, str(family.adapters[step - 1])).merge_and_unload()
    merged.eval()
    for item in (family.items[2], family.items[1]):  # two images; none
        prompt = processor.apply_chat_template(
            conversation(item.question, len(item.images)),
            add_generation_prompt=True,
            tokenize=False,
        )
        images = [Image.open(path).convert("RGB") for path in item.images]
        inputs = processor(text=[prompt], images=images or None, return_tensors="pt")
        with torch.inference_mode():
            out = merged.generate(
                **inputs,
                do_sample=False,
                num_beams=1,
                max_new_tokens=MAX_NEW_TOKENS,
                repetition_penalty=1.0,
                pad_token_id=processor.tokenizer.pad_token_id,
            )
        new = out[0, inputs["input_ids"].shape[1] :]
        text = processor.tokenizer.decode(new, skip_special_tokens=True).strip()
        assert text == outputs["4"][(step, item.uid)]


def test_evaluate_end_to_end(family: Family, tmp_path: Path, monkeypatch) -> None:
    """`evaluate` on a two-task suite: base + two LoRA steps of this family, full matrix."""
    import shutil

    from tinyworld import prepare_small_suite, write_submission

    from benchmark.entry.results import load_results
    from benchmark.evaluation.run import evaluate_entry
    from benchmark.paths import HOME_ENV, TASKS_ENV

    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    monkeypatch.setenv(TASKS_ENV, str(tmp_path / "tasks"))
    prepare_small_suite(tmp_path, "fam", {"a": "colour", "b": "shape"}, test_size=4, seed=3)
    entry = tmp_path / "entry"
    entry.mkdir()
    shutil.copytree(family.base, entry / "model")
    for i, adapter in enumerate(family.adapters, start=1):
        shutil.copytree(adapter, entry / f"step-{i}")
    write_submission(entry, "fam", ["a", "b"], name=family.name)
    outcome = evaluate_entry(
        entry,
        batch_size=4,
        device="cpu",
        cache_path=tmp_path / "c.sqlite",
        progress=False,
        n_boot=50,
    )
    assert outcome.generated == 3 * 2 * 4
    results = load_results(entry / "results.json")
    assert len(results.matrix) == 3 and all(v is not None for row in results.matrix for v in row)
    assert results.provenance.backend == "hf"
