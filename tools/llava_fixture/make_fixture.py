#!/usr/bin/env python
"""Build the original-LLaVA test fixture under tests/fixtures/llava_original/.

Run by hand inside a separate venv that has the ORIGINAL LLaVA codebase
(`llava-torch==1.2.2.post1`, see README.md next to this file); never run in CI.
Everything is seeded and written with paths relative to the fixture folder, so
two runs give byte-identical files.

What it writes (all paths relative to the output folder):

  vicuna/            tiny random LlamaForCausalLM + SentencePiece LLaMA tokenizer
  clip/              tiny random CLIPVisionModel + CLIPImageProcessor config
  mm_projector.bin   stage-1 projector (mlp2x_gelu), LLaVA pretraining key names
  llava-base/        LlavaLlamaForCausalLM = vicuna + stage-1 projector (step 0)
  llava-step1-lora/  LoRA run saved as LLaVA's train.py saves it (step 1)
  llava-step2-lora/  same, step 2 (its projector starts from step 1's)
  images/*.png       three small non-square / odd-size images
  expected.json      prompts, ids, greedy outputs and next-token logits produced
                     by LLaVA's own loader (`load_pretrained_model`) in float32

The model weights, adapters and the projector are produced by calling LLaVA's
own functions (`initialize_vision_modules`, `find_all_linear_names`,
`get_peft_state_maybe_zero_3`, `get_peft_state_non_lora_maybe_zero_3`,
`get_mm_adapter_state_maybe_zero_3`) in the order `llava/train/train.py` calls
them; "training" is replaced by seeded random perturbations.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.metadata
import io
import json
import os
import platform
import random
import shutil
import sys
import types
from pathlib import Path

import numpy as np
import torch
from PIL import Image

SEED = 5  # chosen so that every greedy step has a top-2 margin > 0.01 and one output stops at </s>
VOCAB_SIZE = 384
LORA_R = 8
LORA_ALPHA = 16
MAX_NEW_TOKENS = 6
INIT_STD = 0.1  # larger than Llama's 0.02 so that the 4 image tokens visibly move the outputs
LM_HEAD_STD = 0.2
MIN_GREEDY_MARGIN = 1e-3  # converters differ by ~2e-5 in fp32; ties must not flip
CONV_MODE = "vicuna_v1"
MODEL_MAX_LENGTH = 2048  # LLaVA-1.5 fine-tuning --model_max_length

# Files and folders this script owns inside the output folder; nothing else is touched.
OWNED = [
    "vicuna",
    "clip",
    "mm_projector.bin",
    "mm_projector.bin.safetensors",
    "llava-base",
    "llava-step1-lora",
    "llava-step2-lora",
    "images",
    "expected.json",
]

ITEMS = [
    # (image file, size (w, h), question)
    ("images/wide.png", (40, 24), "What is in the image?"),
    ("images/tall.png", (24, 40), "What color is the stripe?"),
    ("images/square.png", (31, 31), "Is there a circle? Only answer with yes or no directly."),
]

ADDED_TOKEN = {"lstrip": False, "normalized": False, "rstrip": False, "single_word": False}


def seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _to_json(obj, indent: int = 0) -> str:
    """json.dumps(indent=2), except that lists of numbers/strings stay on one line."""
    pad = "  " * (indent + 1)
    if isinstance(obj, dict) and obj:
        body = ",\n".join(
            f"{pad}{json.dumps(k)}: {_to_json(v, indent + 1)}" for k, v in obj.items()
        )
        return "{\n" + body + "\n" + "  " * indent + "}"
    if isinstance(obj, list) and any(isinstance(v, (dict, list)) for v in obj):
        body = ",\n".join(pad + _to_json(v, indent + 1) for v in obj)
        return "[\n" + body + "\n" + "  " * indent + "]"
    return json.dumps(obj, ensure_ascii=False)


def dump_json(path: str, obj, compact_lists: bool = False) -> None:
    text = _to_json(obj) if compact_lists else json.dumps(obj, indent=2, ensure_ascii=False)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text + "\n")


@contextlib.contextmanager
def deepspeed_stub():
    """LLaVA's `maybe_zero_3` imports deepspeed even for plain (non-ZeRO) tensors.

    Only the import has to succeed: our parameters carry no `ds_id`, so the stub is
    never used. It is removed again afterwards so that `find_spec("deepspeed")`
    (used by transformers/accelerate) is not confused by a module without a spec.
    """
    names = [
        "deepspeed",
        "deepspeed.runtime",
        "deepspeed.runtime.zero",
        "deepspeed.runtime.zero.partition_parameters",
    ]
    saved = {n: sys.modules.get(n) for n in names}
    mods = {n: types.ModuleType(n) for n in names}
    mods["deepspeed"].zero = types.SimpleNamespace(GatheredParameters=None)
    mods["deepspeed"].runtime = mods["deepspeed.runtime"]
    mods["deepspeed.runtime"].zero = mods["deepspeed.runtime.zero"]
    mods["deepspeed.runtime.zero"].partition_parameters = mods[
        "deepspeed.runtime.zero.partition_parameters"
    ]
    mods["deepspeed.runtime.zero.partition_parameters"].ZeroParamStatus = types.SimpleNamespace(
        NOT_AVAILABLE=None
    )
    sys.modules.update(mods)
    try:
        yield
    finally:
        for n, m in saved.items():
            if m is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = m


def model_args(pretrain_mm_mlp_adapter):
    """The ModelArguments of LLaVA-1.5's scripts (finetune_lora.sh / pretrain.sh)."""
    from llava.train.train import ModelArguments

    return ModelArguments(
        model_name_or_path="vicuna",
        version="v1",
        vision_tower="clip",
        mm_vision_select_layer=-2,
        pretrain_mm_mlp_adapter=pretrain_mm_mlp_adapter,
        mm_projector_type="mlp2x_gelu",
        mm_use_im_start_end=False,
        mm_use_im_patch_token=False,
        mm_patch_merge_type="flat",
        mm_vision_select_feature="patch",
    )


def randomize_constant_params(model: torch.nn.Module, gen: torch.Generator) -> None:
    """Norm weights start at 1 and biases at 0; make them random too, so that a
    converter which forgets to copy them cannot pass by accident."""
    with torch.no_grad():
        for p in model.parameters():
            if p.numel() > 1 and bool((p == p.reshape(-1)[0]).all()):
                base = p.reshape(-1)[0].item()
                scale = 0.1 if base != 0 else 0.02
                p.copy_(base + scale * torch.randn(p.shape, generator=gen))


# ---------------------------------------------------------------------------
# vicuna/: tokenizer
# ---------------------------------------------------------------------------


def corpus_lines() -> list[str]:
    rng = random.Random(SEED)
    system = (
        "A chat between a curious user and an artificial intelligence assistant. "
        "The assistant gives helpful, detailed, and polite answers to the user's questions."
    )
    subjects = [
        "the image",
        "the picture",
        "this photo",
        "the chart",
        "the map",
        "the screen",
        "the scan",
    ]
    colors = ["red", "green", "blue", "yellow", "white", "black", "orange", "purple", "gray"]
    shapes = ["circle", "square", "stripe", "line", "triangle", "grid", "pattern", "box"]
    questions = [
        "What is in {s}?",
        "What color is the {sh}?",
        "Is there a {sh}? Only answer with yes or no directly.",
        "How many {sh}s are in {s}?",
        "Which option is correct? Answer with the given letter directly, e.g., A, B, C, D.",
        "Describe {s} in one word.",
        "Where is the {c} {sh}?",
    ]
    answers = [
        "There is a {c} {sh} in {s}.",
        "The {sh} is {c}.",
        "Yes",
        "No",
        "The answer is {n}.",
        "A {c} {sh} on a {c2} background.",
        "It is a {sh} with {n} parts.",
    ]
    lines = [system]
    for _ in range(1500):
        fill = dict(
            s=rng.choice(subjects),
            c=rng.choice(colors),
            c2=rng.choice(colors),
            sh=rng.choice(shapes),
            n=rng.randint(0, 2024),
        )
        q = rng.choice(questions).format(**fill)
        a = rng.choice(answers).format(**fill)
        prefix = system + " " if rng.random() < 0.3 else ""
        lines.append(f"{prefix}USER: {q} ASSISTANT: {a}")
    return lines


def write_tokenizer(folder: str) -> None:
    import sentencepiece as spm

    os.makedirs(folder, exist_ok=True)
    model = io.BytesIO()  # in memory: a file input would record its path in the model
    # LLaMA's tokenizer.model settings (BPE, byte fallback, split digits, identity
    # normalisation, dummy prefix, <unk>=0 <s>=1 </s>=2, no pad), scaled down.
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus_lines()),
        model_writer=model,
        model_type="bpe",
        vocab_size=VOCAB_SIZE,
        character_coverage=1.0,
        byte_fallback=True,
        split_digits=True,
        split_by_unicode_script=True,
        split_by_whitespace=True,
        split_by_number=True,
        max_sentencepiece_length=16,
        allow_whitespace_only_pieces=True,
        add_dummy_prefix=True,
        remove_extra_whitespaces=False,
        normalization_rule_name="identity",
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        unk_surface=" \u2047 ",
        num_threads=1,
        minloglevel=2,
    )
    with open(os.path.join(folder, "tokenizer.model"), "wb") as f:
        f.write(model.getvalue())

    # As lmsys/vicuna-7b-v1.5 ships them (slow LlamaTokenizer, no tokenizer.json).
    dump_json(
        os.path.join(folder, "tokenizer_config.json"),
        {
            "add_bos_token": True,
            "add_eos_token": False,
            "bos_token": {"__type": "AddedToken", "content": "<s>", **ADDED_TOKEN},
            "clean_up_tokenization_spaces": False,
            "eos_token": {"__type": "AddedToken", "content": "</s>", **ADDED_TOKEN},
            "legacy": False,
            "model_max_length": 4096,
            "pad_token": None,
            "padding_side": "right",
            "sp_model_kwargs": {},
            "tokenizer_class": "LlamaTokenizer",
            "unk_token": {"__type": "AddedToken", "content": "<unk>", **ADDED_TOKEN},
        },
    )
    dump_json(
        os.path.join(folder, "special_tokens_map.json"),
        {
            "bos_token": {"content": "<s>", **ADDED_TOKEN},
            "eos_token": {"content": "</s>", **ADDED_TOKEN},
            "pad_token": "<unk>",
            "unk_token": {"content": "<unk>", **ADDED_TOKEN},
        },
    )


# ---------------------------------------------------------------------------
# vicuna/: model, clip/
# ---------------------------------------------------------------------------


def write_vicuna(folder: str) -> None:
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=VOCAB_SIZE,
        # hidden 24 (not 32) so that no projector matrix is square: a converter
        # that transposes or swaps linear_1/linear_2 fails on shapes.
        hidden_size=24,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        hidden_act="silu",
        max_position_embeddings=4096,
        initializer_range=INIT_STD,
        rms_norm_eps=1e-5,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
        pretraining_tp=1,
        tie_word_embeddings=False,
        rope_scaling=None,
        use_cache=True,
        torch_dtype="float32",
    )
    seed_all(SEED + 1)
    model = LlamaForCausalLM(config)
    randomize_constant_params(model, torch.Generator().manual_seed(SEED + 2))
    with torch.no_grad():
        # Larger output weights give clear greedy margins; the byte-fallback pieces
        # <0x00>..<0xFF> (ids 3..258) get small rows so that decoded outputs are
        # readable pieces rather than broken UTF-8.
        head = model.lm_head.weight
        head.copy_(
            LM_HEAD_STD * torch.randn(head.shape, generator=torch.Generator().manual_seed(SEED + 8))
        )
        head[3:259] *= 0.1
    # Vicuna-v1.5 ships a sampling generation config; evaluators must force greedy.
    model.generation_config = GenerationConfig(
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
        do_sample=True,
        temperature=0.9,
        top_p=0.6,
        max_length=4096,
    )
    model.save_pretrained(folder, safe_serialization=True)


def write_clip(folder: str) -> None:
    from transformers import CLIPVisionConfig, CLIPVisionModel

    config = CLIPVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        projection_dim=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_channels=3,
        image_size=28,
        patch_size=14,
        hidden_act="quick_gelu",
        layer_norm_eps=1e-5,
    )
    seed_all(SEED + 3)
    model = CLIPVisionModel(config)
    randomize_constant_params(model, torch.Generator().manual_seed(SEED + 4))
    model.save_pretrained(folder, safe_serialization=True)
    # The layout openai/clip-vit-large-patch14-336 ships (integer size/crop_size).
    dump_json(
        os.path.join(folder, "preprocessor_config.json"),
        {
            "crop_size": 28,
            "do_center_crop": True,
            "do_normalize": True,
            "do_resize": True,
            "feature_extractor_type": "CLIPFeatureExtractor",
            "image_mean": [0.48145466, 0.4578275, 0.40821073],
            "image_std": [0.26862954, 0.26130258, 0.27577711],
            "resample": 3,
            "size": 28,
        },
    )


# ---------------------------------------------------------------------------
# mm_projector.bin (stage 1), llava-base/ (step 0), LoRA steps
# ---------------------------------------------------------------------------


def load_vicuna_as_llava():
    """train.py: LlavaLlamaForCausalLM.from_pretrained(model_name_or_path) + tokenizer."""
    import transformers
    from llava.model import LlavaLlamaForCausalLM

    model = LlavaLlamaForCausalLM.from_pretrained("vicuna", torch_dtype=torch.float32)
    model.config.use_cache = False
    tokenizer = transformers.AutoTokenizer.from_pretrained(
        "vicuna", model_max_length=MODEL_MAX_LENGTH, padding_side="right", use_fast=False
    )
    tokenizer.pad_token = tokenizer.unk_token  # version v1
    return model, tokenizer


def finish_vision_setup(model, tokenizer, margs, tune_mm_mlp_adapter: bool) -> None:
    """The part of train.py between initialize_vision_modules and the trainer."""
    model.get_model().initialize_vision_modules(model_args=margs, fsdp=[])
    cfg = model.config
    cfg.image_aspect_ratio = "pad"
    cfg.tokenizer_padding_side = tokenizer.padding_side
    cfg.tokenizer_model_max_length = tokenizer.model_max_length
    cfg.tune_mm_mlp_adapter = tune_mm_mlp_adapter
    if tune_mm_mlp_adapter:
        model.requires_grad_(False)
        for p in model.get_model().mm_projector.parameters():
            p.requires_grad = True
    cfg.freeze_mm_mlp_adapter = False
    cfg.mm_use_im_start_end = margs.mm_use_im_start_end
    cfg.mm_projector_lr = None
    cfg.mm_use_im_patch_token = margs.mm_use_im_patch_token
    model.initialize_vision_tokenizer(margs, tokenizer=tokenizer)


def write_stage1_projector(path: str) -> None:
    from llava.train.train import get_mm_adapter_state_maybe_zero_3

    seed_all(SEED + 5)
    model, tokenizer = load_vicuna_as_llava()
    finish_vision_setup(model, tokenizer, model_args(None), tune_mm_mlp_adapter=True)
    randomize_constant_params(
        model.get_model().mm_projector, torch.Generator().manual_seed(SEED + 6)
    )
    with deepspeed_stub():
        weights = get_mm_adapter_state_maybe_zero_3(model.named_parameters(), ["mm_projector"])
    torch.save(weights, path)


def write_llava_base(folder: str) -> None:
    """A full LLaVA checkpoint as trainer._save writes one: vicuna + stage-1 projector
    (its state dict includes the frozen vision tower, as a real full fine-tune's does)."""
    seed_all(SEED + 7)
    model, tokenizer = load_vicuna_as_llava()
    finish_vision_setup(model, tokenizer, model_args("mm_projector.bin"), tune_mm_mlp_adapter=False)
    model.config.use_cache = True
    state_dict = {k: v.cpu() for k, v in model.state_dict().items()}
    model.save_pretrained(folder, state_dict=state_dict, safe_serialization=False)
    tokenizer.save_pretrained(folder)


def write_lora_step(folder: str, step: int, projector_from: str) -> None:
    """train.py with --lora_enable True: peft LoRA on the language model only,
    projector trainable, saved as config.json + adapter + non_lora_trainables.bin."""
    from llava.train.train import (
        find_all_linear_names,
        get_peft_state_maybe_zero_3,
        get_peft_state_non_lora_maybe_zero_3,
    )
    from peft import LoraConfig, get_peft_model

    seed_all(SEED + 10 * step)
    model, tokenizer = load_vicuna_as_llava()
    lora_config = LoraConfig(
        r=LORA_R,
        lora_alpha=LORA_ALPHA,
        # sorted: find_all_linear_names returns a set's order, which changes with
        # PYTHONHASHSEED and would make adapter_config.json differ between runs
        target_modules=sorted(find_all_linear_names(model)),
        lora_dropout=0.05,
        bias="none",
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(model, lora_config)
    finish_vision_setup(model, tokenizer, model_args(projector_from), tune_mm_mlp_adapter=False)

    # "Training": seeded perturbations. lora_B is non-zero so the adapter matters;
    # the projector moves away from where it started.
    gen = torch.Generator().manual_seed(SEED + 10 * step + 1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.copy_(0.05 * torch.randn(p.shape, generator=gen))
            elif "mm_projector" in name:
                p.add_(0.05 * torch.randn(p.shape, generator=gen))

    model.config.use_cache = True
    with deepspeed_stub():
        state_dict = get_peft_state_maybe_zero_3(model.named_parameters(), "none")
        non_lora_state_dict = get_peft_state_non_lora_maybe_zero_3(model.named_parameters())
    model.config.save_pretrained(folder)
    model.save_pretrained(folder, state_dict=state_dict)
    torch.save(non_lora_state_dict, os.path.join(folder, "non_lora_trainables.bin"))


# ---------------------------------------------------------------------------
# images/
# ---------------------------------------------------------------------------


def write_images() -> None:
    os.makedirs("images", exist_ok=True)
    # wide 40x24: horizontal red->blue gradient with a white horizontal stripe
    w, h = 40, 24
    a = np.zeros((h, w, 3), np.uint8)
    x = np.arange(w)[None, :]
    a[..., 0] = 255 * (w - 1 - x) // (w - 1)
    a[..., 2] = 255 * x // (w - 1)
    a[..., 1] = 40
    a[10:14, :, :] = 255
    Image.fromarray(a, "RGB").save("images/wide.png")
    # tall 24x40: green/yellow 4-pixel checkerboard with a black vertical stripe
    w, h = 24, 40
    yy, xx = np.mgrid[0:h, 0:w]
    check = ((yy // 4 + xx // 4) % 2).astype(bool)
    a = np.zeros((h, w, 3), np.uint8)
    a[check] = (230, 220, 30)
    a[~check] = (20, 160, 60)
    a[:, 10:13] = 0
    Image.fromarray(a, "RGB").save("images/tall.png")
    # square 31x31: orange disc on a gray diagonal ramp
    n = 31
    yy, xx = np.mgrid[0:n, 0:n]
    ramp = (60 + 4 * (xx + yy)).clip(0, 255).astype(np.uint8)
    a = np.stack([ramp, ramp, ramp], -1)
    disc = (xx - 15) ** 2 + (yy - 15) ** 2 <= 81
    a[disc] = (250, 140, 20)
    Image.fromarray(a, "RGB").save("images/square.png")


# ---------------------------------------------------------------------------
# expected.json: LLaVA's own loader and its model_vqa recipe, float32 on CPU
# ---------------------------------------------------------------------------


class _TorchWithFloat32Half:
    """Stands in for `torch` inside llava.model.builder so that its hard-coded
    `torch.float16` (model dtype and vision tower cast) means float32."""

    float16 = torch.float32

    def __getattr__(self, name):
        return getattr(torch, name)


def f32(x) -> float:
    """Shortest decimal that round-trips to the same float32 (parse, then cast to float32)."""
    return float(str(np.float32(x)))


def run_original(model_path: str, model_base) -> dict:
    import llava.model.builder as builder
    from llava.constants import DEFAULT_IMAGE_TOKEN, IMAGE_TOKEN_INDEX
    from llava.conversation import conv_templates
    from llava.mm_utils import get_model_name_from_path, process_images, tokenizer_image_token

    model_name = get_model_name_from_path(model_path)
    tokenizer, model, image_processor, _ = builder.load_pretrained_model(
        model_path, model_base, model_name, device_map="cpu", device="cpu"
    )
    model.eval()
    assert model.dtype == torch.float32, model.dtype
    assert model.get_vision_tower().dtype == torch.float32

    items = []
    for image_file, size, question in ITEMS:
        # llava/eval/model_vqa.py
        qs = DEFAULT_IMAGE_TOKEN + "\n" + question  # mm_use_im_start_end is False
        conv = conv_templates[CONV_MODE].copy()
        conv.append_message(conv.roles[0], qs)
        conv.append_message(conv.roles[1], None)
        prompt = conv.get_prompt()
        input_ids = tokenizer_image_token(
            prompt, tokenizer, IMAGE_TOKEN_INDEX, return_tensors="pt"
        ).unsqueeze(0)
        image = Image.open(image_file).convert("RGB")
        assert image.size == size
        image_tensor = process_images([image], image_processor, model.config)[0]
        pixels = image_tensor.to(torch.float32).contiguous()
        with torch.inference_mode():
            output_ids = model.generate(
                input_ids,
                images=pixels.unsqueeze(0),
                image_sizes=[image.size],
                do_sample=False,
                num_beams=1,
                max_new_tokens=MAX_NEW_TOKENS,
                use_cache=True,
                output_scores=True,
                return_dict_in_generate=True,
            )
            step_margins = [float(-torch.diff(sc[0].topk(2).values)) for sc in output_ids.scores]
            output_ids = output_ids.sequences
            logits = model(input_ids, images=pixels.unsqueeze(0), image_sizes=[image.size]).logits[
                0, -1
            ]
        sequence = output_ids[0].tolist()
        text = tokenizer.batch_decode(output_ids, skip_special_tokens=True)[0].strip()
        # transformers 4.36 generate() from inputs_embeds (what LLaVA's generate passes)
        # returns bos followed by the new tokens only; the prompt is not echoed.
        assert sequence[0] == tokenizer.bos_token_id, sequence
        new_ids = sequence[1:]
        assert 1 <= len(new_ids) <= MAX_NEW_TOKENS
        top2 = torch.topk(logits, 2).values
        assert int(logits.argmax()) == new_ids[0], "generate and forward disagree"
        assert min(step_margins) > MIN_GREEDY_MARGIN, (model_path, image_file, step_margins)
        items.append(
            {
                "image": image_file,
                "image_size": list(image.size),
                "question": question,
                "prompt": prompt,
                "input_ids": input_ids[0].tolist(),
                "pixel_values": {
                    "shape": list(pixels.shape),
                    "dtype": "float32",
                    "sha256_le_bytes": hashlib.sha256(
                        pixels.numpy().astype("<f4").tobytes()
                    ).hexdigest(),
                    "sum": f32(pixels.sum()),
                    "first_row_channel0": [f32(v) for v in pixels[0, 0].tolist()],
                },
                "generate_sequence": sequence,
                "output_ids": new_ids,
                "output_text": text,
                "next_token_logits": [f32(v) for v in logits.tolist()],
                "next_token_top2_margin": f32(top2[0] - top2[1]),
                "greedy_min_top2_margin": f32(min(step_margins)),
            }
        )
    return {
        "model_path": model_path,
        "model_base": model_base,
        "model_name": model_name,
        "load_call": (
            f"load_pretrained_model({model_path!r}, {model_base!r}, {model_name!r}, "
            "device_map='cpu', device='cpu')"
        ),
        "config_vocab_size": model.config.vocab_size,
        "tokenizer_len": len(tokenizer),
        "items": items,
    }


def versions() -> dict:
    out = {"python": platform.python_version()}
    for dist in [
        "llava-torch",
        "torch",
        "transformers",
        "peft",
        "tokenizers",
        "sentencepiece",
        "accelerate",
        "safetensors",
        "numpy",
        "Pillow",
        "protobuf",
    ]:
        out[dist] = importlib.metadata.version(dist)
    return out


def write_expected() -> None:
    import llava.model.builder as builder
    from llava.utils import disable_torch_init

    disable_torch_init()  # as model_vqa.py does; all weights are loaded afterwards
    builder.torch = _TorchWithFloat32Half()
    steps = [
        {"step": 0, **run_original("llava-base", None)},
        {"step": 1, **run_original("llava-step1-lora", "vicuna")},
        {"step": 2, **run_original("llava-step2-lora", "vicuna")},
    ]
    dump_json(
        "expected.json",
        {
            "format": 1,
            "generator": "tools/llava_fixture/make_fixture.py",
            "versions": versions(),
            "dtype": "float32",
            "device": "cpu",
            "torch_num_threads": torch.get_num_threads(),
            "float_encoding": "shortest decimal that round-trips to float32: "
            "parse, then cast to float32",
            "conv_template": CONV_MODE,
            "image_token_index": -200,
            "image_aspect_ratio": "pad",
            "pad_background_rgb": [int(x * 255) for x in [0.48145466, 0.4578275, 0.40821073]],
            "generation": {
                "do_sample": False,
                "num_beams": 1,
                "max_new_tokens": MAX_NEW_TOKENS,
                "use_cache": True,
            },
            "decode": "tokenizer.batch_decode(output_ids, skip_special_tokens=True)[0].strip()",
            "mm_vision_tower_note": "configs say mm_vision_tower='clip': a path relative to "
            "this folder; the outputs were produced with this folder as the working directory",
            "lora": {"r": LORA_R, "alpha": LORA_ALPHA, "scaling": LORA_ALPHA / LORA_R},
            "steps": steps,
        },
        compact_lists=True,
    )


# ---------------------------------------------------------------------------


def store_pickles_as_safetensors(out: Path) -> None:
    """No pickle is committed: every `.bin` the codebase wrote becomes `<name>.bin.safetensors`
    (the same tensors); the tests write them back as `.bin` in a temporary copy."""
    from safetensors.torch import save_file

    for path in sorted(out.rglob("*.bin")):
        tensors = torch.load(path, map_location="cpu", weights_only=True)
        save_file(
            {k: v.contiguous() for k, v in tensors.items()},
            f"{path}.safetensors",
            metadata={"format": "pt"},
        )
        path.unlink()


def main() -> None:
    default_out = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "llava_original"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=default_out)
    args = parser.parse_args()

    import llava  # noqa: F401  (fail early outside the llava-torch venv)

    torch.set_num_threads(1)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    for name in OWNED:
        p = out / name
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()
    # Work inside the fixture folder: every path written into a config
    # (mm_vision_tower, _name_or_path, base_model_name_or_path) stays relative.
    os.chdir(out)

    write_tokenizer("vicuna")
    write_vicuna("vicuna")
    write_clip("clip")
    write_stage1_projector("mm_projector.bin")
    write_llava_base("llava-base")
    write_lora_step("llava-step1-lora", 1, "mm_projector.bin")
    write_lora_step("llava-step2-lora", 2, "llava-step1-lora/non_lora_trainables.bin")
    write_images()
    write_expected()
    store_pickles_as_safetensors(out)

    files = [f for f in out.rglob("*") if f.is_file() and f.relative_to(out).parts[0] in OWNED]
    print(f"wrote {out}: {len(files)} files, {sum(f.stat().st_size for f in files)} bytes")


if __name__ == "__main__":
    main()
