"""Tiny LLaVA-shaped models built offline: reload, prompt format, batched generation,
reproducibility, and LoRA adapters that really change outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmark.demo.tiny_models import (
    DEFAULT_WORDS,
    LANGUAGE_MODEL_ATTENTION,
    adapter_targets,
    build_tiny_llava,
    chat_prompt,
    conversation,
    count_parameters,
    generate_ids,
    generate_text,
    load_tiny,
    make_lora_adapter,
)

pytestmark = pytest.mark.slow

QUESTIONS = [
    "What colour is the shape in the image? Answer with one word.",
    "What shape is shown in the image?\nA. circle\nB. square\nC. triangle\nD. diamond\n"
    "Answer with the option's letter.",
    "How many shapes are in the image? Answer with a number.",
    "Where in the image is the shape? Answer with two words.",
    "What colour is the shape in the image?",
    "Which shape?",
]


def draw(colour: str, kind: str, size: int = 64):
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (size, size), "white")
    pen = ImageDraw.Draw(image)
    box = (size // 6, size // 6, size - size // 6, size - size // 6)
    if kind == "circle":
        pen.ellipse(box, fill=colour)
    elif kind == "square":
        pen.rectangle(box, fill=colour)
    else:
        pen.polygon([(size // 2, box[1]), (box[2], box[3]), (box[0], box[3])], fill=colour)
    return image


def items(n: int = 4):
    """(question, images) pairs of different lengths, with PIL-drawn images."""
    colours = ["red", "blue", "green", "yellow", "purple", "orange"]
    kinds = ["circle", "square", "triangle"]
    return [(QUESTIONS[i], [draw(colours[i], kinds[i % 3], size=48 + 8 * i)]) for i in range(n)]


def batched_ids(model, processor, batch, max_new_tokens: int = 8) -> list[list[int]]:
    """The evaluator's recipe: one left-padded batch, greedy, new tokens up to EOS."""
    import torch

    prompts = [chat_prompt(processor, q, len(images)) for q, images in batch]
    images = [image for _, item_images in batch for image in item_images]
    inputs = processor(text=prompts, images=images or None, padding=True, return_tensors="pt")
    tokenizer = processor.tokenizer
    with torch.inference_mode():
        out = model.generate(
            **inputs,
            do_sample=False,
            max_new_tokens=max_new_tokens,
            repetition_penalty=1.0,
            pad_token_id=tokenizer.pad_token_id,
        )
    result = []
    for row in out[:, inputs["input_ids"].shape[1] :].tolist():
        result.append(
            row[: row.index(tokenizer.eos_token_id)] if tokenizer.eos_token_id in row else row
        )
    return result


def texts(processor, ids: list[list[int]]) -> list[str]:
    return [t.strip() for t in processor.tokenizer.batch_decode(ids, skip_special_tokens=True)]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llava(tmp_path_factory.mktemp("tiny") / "base", seed=0)


@pytest.fixture(scope="module")
def loaded(base: Path):
    return load_tiny(base)


@pytest.fixture(scope="module")
def adapter(base: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_lora_adapter(base, tmp_path_factory.mktemp("adapters") / "a1", seed=1)


def test_reload_with_auto_classes(base: Path) -> None:
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor, LlavaProcessor

    processor = AutoProcessor.from_pretrained(base)
    assert type(processor) is LlavaProcessor  # not a bare tokenizer
    tokenizer = processor.tokenizer
    assert tokenizer.padding_side == "left"  # saved, not just set on the object
    model = AutoModelForImageTextToText.from_pretrained(base, dtype=torch.float32)
    config = model.config
    assert type(model).__name__ == "LlavaForConditionalGeneration"
    assert config.image_token_index == tokenizer.convert_tokens_to_ids("<image>")
    assert config.image_token_index == processor.image_token_id
    assert config.image_seq_length == 4  # (28 // 14) ** 2 patches, CLS dropped
    assert config.text_config.vocab_size >= len(tokenizer)
    assert tokenizer.eos_token == "</s>" and tokenizer.pad_token == "<pad>"
    assert config.text_config.eos_token_id == tokenizer.eos_token_id
    assert model.generation_config.do_sample is False
    assert model.generation_config.pad_token_id == tokenizer.pad_token_id
    assert processor.patch_size == 14 and processor.num_additional_image_tokens == 1
    assert processor.vision_feature_select_strategy == config.vision_feature_select_strategy
    assert count_parameters(base) == model.num_parameters()
    assert sorted(p.name for p in base.iterdir() if p.suffix == ".safetensors") == [
        "model.safetensors"
    ]


def test_answer_words_are_single_tokens(loaded) -> None:
    _, processor = loaded
    tokenizer = processor.tokenizer
    for word in ["red", "purple", "circle", "triangle", "3", "top", "left", "A", "D", "yes"]:
        assert word in DEFAULT_WORDS
        assert len(tokenizer.tokenize(" " + word)) == 1, word
        assert len(tokenizer.tokenize(word)) == 1, word
    # a word outside the corpus still encodes (byte level) and decodes losslessly
    ids = tokenizer("zebra ünïcode", add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids) == "zebra ünïcode"


def test_prompt_has_one_bos_and_expanded_image_tokens(loaded) -> None:
    _, processor = loaded
    tokenizer = processor.tokenizer
    prompt = chat_prompt(processor, "What colour?", 1)
    assert prompt == "USER: <image>\nWhat colour? ASSISTANT:"
    for n_images in (0, 1, 2):
        prompt = chat_prompt(processor, "What colour?", n_images)
        images = [draw("red", "circle")] * n_images
        ids = processor(text=[prompt], images=images or None, return_tensors="pt")["input_ids"][
            0
        ].tolist()
        assert ids.count(tokenizer.bos_token_id) == 1 and ids[0] == tokenizer.bos_token_id
        assert ids.count(processor.image_token_id) == 4 * n_images
    # the tokenizing chat-template path also adds exactly one BOS
    batch = processor.apply_chat_template(
        [conversation("What colour?", 0), conversation("What shape is it?", 0)],
        add_generation_prompt=True,
        tokenize=True,
        return_dict=True,
        return_tensors="pt",
        processor_kwargs={"padding": True},
    )
    rows = batch["input_ids"].tolist()
    assert [row.count(tokenizer.bos_token_id) for row in rows] == [1, 1]
    assert rows[0][0] == tokenizer.pad_token_id  # the shorter prompt is padded on the left
    assert rows[1][0] == tokenizer.bos_token_id


def test_chat_template_turns_and_system(loaded) -> None:
    _, processor = loaded
    conv = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "image"}, {"type": "image"},
                                     {"type": "text", "text": "Q1"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "red"}]},
        {"role": "user", "content": "Q2"},
    ]  # fmt: skip
    assert (
        processor.apply_chat_template(conv, add_generation_prompt=True, tokenize=False)
        == "Be brief. USER: <image>\n<image>\nQ1 ASSISTANT: red</s>USER: Q2 ASSISTANT:"
    )
    assert processor.tokenizer.apply_chat_template(conv[1:3], tokenize=False) == (
        "USER: <image>\n<image>\nQ1 ASSISTANT: red</s>"
    )
    with pytest.raises(Exception, match="unknown role"):
        processor.apply_chat_template([{"role": "tool", "content": "x"}], tokenize=False)


def test_batched_generation_equals_per_item(loaded) -> None:
    model, processor = loaded
    batch = items(4)
    together = batched_ids(model, processor, batch)
    assert together == generate_ids(model, processor, batch)  # one at a time, no padding
    assert any(together)  # something was generated
    # untrained, the model still answers in whole vocabulary words
    assert all(w in DEFAULT_WORDS for text in texts(processor, together) for w in text.split())


def test_same_seed_same_bytes_other_seed_differs(base: Path, tmp_path: Path) -> None:
    again = build_tiny_llava(tmp_path / "again", seed=0)
    other = build_tiny_llava(tmp_path / "other", seed=1)
    names = sorted(p.name for p in base.iterdir())
    assert names == sorted(p.name for p in again.iterdir())
    for name in names:
        assert (base / name).read_bytes() == (again / name).read_bytes(), name
    assert (base / "model.safetensors").read_bytes() != (other / "model.safetensors").read_bytes()
    assert (base / "tokenizer.json").read_bytes() == (other / "tokenizer.json").read_bytes()


def test_image_size_sets_image_tokens(tmp_path: Path) -> None:
    model_dir = build_tiny_llava(tmp_path / "m56", image_size=56, layers=1, hidden_size=64)
    model, processor = load_tiny(model_dir)
    assert model.config.image_seq_length == 16
    prompt = chat_prompt(processor, "What colour?", 1)
    ids = processor(text=[prompt], images=[draw("red", "square")], return_tensors="pt")
    assert ids["input_ids"][0].tolist().count(processor.image_token_id) == 16
    assert ids["pixel_values"].shape[-2:] == (56, 56)
    with pytest.raises(ValueError, match="multiple of 14"):
        build_tiny_llava(tmp_path / "bad", image_size=30)


def test_adapter_changes_outputs_and_toggles(base: Path, adapter: Path) -> None:
    batch = items(6)
    plain = generate_text(base, batch)  # the plain reference, one item at a time
    adapted = generate_text(base, batch, adapter_dir=adapter)  # through peft.PeftModel
    assert plain != adapted

    # the harness's path (batched, left padded): load_adapter / set_adapter /
    # disable_adapters on one base model
    model, processor = load_tiny(base)
    model.load_adapter(str(adapter), adapter_name="x")
    model.set_adapter("x")
    assert texts(processor, batched_ids(model, processor, batch)) == adapted
    model.disable_adapters()
    assert texts(processor, batched_ids(model, processor, batch)) == plain
    model.enable_adapters()
    assert texts(processor, batched_ids(model, processor, batch)) == adapted


def test_adapter_files_targets_and_reproducibility(
    base: Path, adapter: Path, tmp_path: Path
) -> None:
    import json

    config = json.loads((adapter / "adapter_config.json").read_text())
    assert config["r"] == 8 and config["target_modules"] == LANGUAGE_MODEL_ATTENTION
    assert config["base_model_name_or_path"] == "base"  # no absolute path recorded
    assert sorted(p.name for p in adapter.iterdir()) == [
        "adapter_config.json", "adapter_model.safetensors",
    ]  # fmt: skip
    targets = adapter_targets(adapter)
    assert targets == [
        f"model.language_model.layers.{i}.self_attn.{m}"
        for i in (0, 1)
        for m in ("q_proj", "v_proj")
    ]
    assert count_parameters(adapter) == 4 * (8 * 128 + 128 * 8)

    same = make_lora_adapter(base, tmp_path / "same", seed=1)
    other = make_lora_adapter(base, tmp_path / "other", seed=2)
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        assert (adapter / name).read_bytes() == (same / name).read_bytes()
    assert (adapter / "adapter_model.safetensors").read_bytes() != (
        other / "adapter_model.safetensors"
    ).read_bytes()

    wide = adapter_targets(make_lora_adapter(base, tmp_path / "vision", seed=3, vision=True))
    assert any(".vision_tower." in t for t in wide)
    assert any("multi_modal_projector" in t for t in wide)
    assert set(targets) < set(wide)

    head = adapter_targets(
        make_lora_adapter(base, tmp_path / "head", seed=4, modules_to_save=["lm_head"])
    )
    assert "lm_head" in head and not any(".vision_tower." in t for t in head)
