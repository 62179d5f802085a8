"""Tiny Qwen2.5-VL- and InternVL-shaped models, built offline, for the tests.

Like :mod:`.tiny_models` (the LLaVA-1.5 shape), everything is made here from code: a byte-level
BPE tokenizer trained in memory carrying the family's special tokens, the family's own chat
template, its image (and video) processor at a small image size, and a randomly initialised
model whose weights are a pure function of ``seed``. The directories load back with
``AutoProcessor`` and ``AutoModelForImageTextToText``:

- :func:`build_tiny_qwen25vl`: ``Qwen2_5_VLForConditionalGeneration`` with
  ``Qwen2_5_VLProcessor`` (ChatML with ``<|vision_start|><|image_pad|><|vision_end|>`` per
  image; the processor expands ``<|image_pad|>`` to one token per 2×2 merged patch);
- :func:`build_tiny_internvl`: transformers' native ``InternVLForConditionalGeneration``
  (not the remote-code ``InternVLChatModel``) with ``InternVLProcessor`` (ChatML with
  ``<IMG_CONTEXT>`` per image, which the processor expands to
  ``<img><IMG_CONTEXT>…</img>``, ``image_seq_length`` context tokens per tile).

Both need torchvision (their video processors, and the default image-processor backend);
:func:`torchvision_problem` says why it cannot be used here, if it cannot.

The language model of both is Qwen2-like (``model.language_model.layers.N.self_attn.q_proj``),
so :func:`.tiny_models.make_lora_adapter` with its default target
(:data:`.tiny_models.LANGUAGE_MODEL_ATTENTION`, a regex on ``language_model``) writes adapters
for them that leave the vision towers alone.

Head dimensions are 32 (vision) and 64 (text): vLLM's kernels want at least 32.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmark.demo.tiny_models import (
    DEFAULT_WORDS,
    count_parameters,
    tokenizer_corpus,
    train_byte_level_bpe,
)

# ---------------------------------------------------------------------------------------------
# Shared: ChatML vocabulary

ENDOFTEXT, IM_START, IM_END = "<|endoftext|>", "<|im_start|>", "<|im_end|>"
CHATML_WORDS = ("system", "user", "assistant", "You are a helpful assistant.")

# Qwen2-VL's (and Qwen2.5-VL's) chat template as their checkpoints ship it: a default system
# turn, then one <|vision_start|><|image_pad|><|vision_end|> per image part, in part order.
QWEN2_VL_CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}"
    "{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# InternVL's template in transformers' format (the "-hf" checkpoints): ChatML without a
# default system turn, "<IMG_CONTEXT>\n" per image part, "<video>\n" per video part.
INTERNVL_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' }}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' %}{{ '<IMG_CONTEXT>\n' }}"
    "{% elif content['type'] == 'video' %}{{ '<video>\n' }}"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}"
    "{% endif %}{% endfor %}{% endif %}"
    "{{ '<|im_end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

QWEN_SPECIAL_TOKENS = (
    ENDOFTEXT,
    IM_START,
    IM_END,
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
QWEN_IMAGE_PLACEHOLDER = "<|vision_start|><|image_pad|><|vision_end|>"

INTERNVL_SPECIAL_TOKENS = (
    ENDOFTEXT,
    IM_START,
    IM_END,
    "<img>",
    "</img>",
    "<IMG_CONTEXT>",
    "<video>",
)
INTERNVL_IMAGE_PLACEHOLDER = "<IMG_CONTEXT>"

PATCH_SIZE = 14
TEXT_HEADS = 2
VISION_HIDDEN = 64  # two heads of 32
# Qwen2.5-VL: min_pixels = max_pixels, sides rounded to multiples of 28 (patch 14, merge 2):
# a square image becomes 56×56, 4×4 patches merged 2×2 into 4 placeholder tokens; other aspect
# ratios give 2 to 6 tokens (the rounding can overshoot the bound for small images).
QWEN_IMAGE_PIXELS = 56 * 56
# InternVL: 56×56 tiles, 4×4 patches, pixel-shuffled by 0.5 into 2×2 = 4 context tokens.
INTERNVL_TILE = 56


# ---------------------------------------------------------------------------------------------
# Building blocks


def torchvision_problem() -> str | None:
    """Why these families' processors cannot be built here, or ``None`` if they can."""
    try:
        import torchvision  # noqa: F401
    except ImportError:
        return "torchvision is not installed"
    except RuntimeError as exc:  # e.g. a CUDA torchvision next to a CPU-only torch
        return f"torchvision does not import: {exc}"
    return None


def _chatml_tokenizer(
    specials: Sequence[str],
    words: Sequence[str],
    chat_template: str,
    extra_special_tokens: dict[str, str],
) -> Any:
    """Byte-level BPE trained in memory, specials first; ChatML's EOS and padding."""
    from transformers import PreTrainedTokenizerFast

    core = train_byte_level_bpe(specials, [*tokenizer_corpus(words), *CHATML_WORDS])
    # No BOS: Qwen-family prompts start with <|im_start|>. padding_side must go to the
    # constructor: set as an attribute later it is not saved.
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        eos_token=IM_END,
        pad_token=ENDOFTEXT,
        extra_special_tokens=extra_special_tokens,
        padding_side="left",
        chat_template=chat_template,
        model_max_length=1024,
    )


def _quiet_head(model: Any, tokenizer: Any, words: Sequence[str]) -> None:
    """Zero every output row except EOS's and those of the space-prefixed vocabulary words.

    Random weights would mostly pick single-byte tokens that decode to invalid UTF-8; this
    way an untrained model answers with (random) whole words, as the LLaVA shape does.
    """
    import torch

    vocab = tokenizer.get_vocab()
    loud = {tokenizer.eos_token_id} | {
        vocab[t] for t in (f"\u0120{w}" for w in words) if t in vocab
    }
    with torch.no_grad():
        head = model.get_output_embeddings().weight
        quiet = [i for i in range(head.shape[0]) if i not in loud]
        head[quiet] = 0.0


def _save(model: Any, processor: Any, tokenizer: Any, out_dir: Path) -> Path:
    from transformers import GenerationConfig

    model.generation_config = GenerationConfig(
        do_sample=False,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    return out_dir


def _text_config(tokenizer: Any, hidden_size: int, layers: int) -> dict[str, Any]:
    return {
        "vocab_size": len(tokenizer),
        "hidden_size": hidden_size,
        "intermediate_size": 2 * hidden_size,
        "num_hidden_layers": layers,
        "num_attention_heads": TEXT_HEADS,
        "num_key_value_heads": TEXT_HEADS,
        "max_position_embeddings": 1024,
        "rms_norm_eps": 1e-6,
        "bos_token_id": None,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
        "tie_word_embeddings": False,
    }


def _check_sizes(hidden_size: int) -> None:
    if hidden_size % (2 * TEXT_HEADS) or hidden_size // TEXT_HEADS < 32:
        raise ValueError("hidden_size must be a multiple of 4 and give heads of at least 32")


# ---------------------------------------------------------------------------------------------
# Qwen2.5-VL


def build_tiny_qwen25vl(
    out_dir: Path,
    seed: int = 0,
    *,
    vocab_words: Sequence[str] = DEFAULT_WORDS,
    hidden_size: int = 128,
    layers: int = 2,
) -> Path:
    """Build and save a tiny Qwen2.5-VL-shaped checkpoint; returns ``out_dir``.

    A square image becomes 56×56 pixels, 4 ``<|image_pad|>`` tokens (2 to 6 for other aspect
    ratios). The same arguments give byte-identical weights.
    """
    import torch
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2VLImageProcessor,
        Qwen2VLVideoProcessor,
    )

    _check_sizes(hidden_size)
    out_dir = Path(out_dir)
    tokenizer = _chatml_tokenizer(
        QWEN_SPECIAL_TOKENS,
        vocab_words,
        QWEN2_VL_CHAT_TEMPLATE,
        {
            "image_token": "<|image_pad|>",
            "video_token": "<|video_pad|>",
            "vision_start_token": "<|vision_start|>",
            "vision_end_token": "<|vision_end|>",
        },
    )
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in QWEN_SPECIAL_TOKENS}
    pixels = {"shortest_edge": QWEN_IMAGE_PIXELS, "longest_edge": QWEN_IMAGE_PIXELS}
    shape = {"patch_size": PATCH_SIZE, "temporal_patch_size": 2, "merge_size": 2}
    processor = Qwen2_5_VLProcessor(
        image_processor=Qwen2VLImageProcessor(size=pixels, **shape),
        video_processor=Qwen2VLVideoProcessor(size=pixels, **shape),
        tokenizer=tokenizer,
        chat_template=QWEN2_VL_CHAT_TEMPLATE,
    )

    head_dim = hidden_size // TEXT_HEADS
    # Multimodal RoPE: (temporal, height, width) sections of the rotary half-dimension,
    # in the real models' 2:3:3 proportion (16, 24, 24 for head_dim 128).
    temporal = head_dim // 8
    spatial = (head_dim // 2 - temporal) // 2
    mrope_section = [head_dim // 2 - 2 * spatial, spatial, spatial]
    text_config = _text_config(tokenizer, hidden_size, layers)
    text_config["rope_parameters"] = {
        "rope_type": "default",
        "rope_theta": 1_000_000.0,
        "mrope_section": mrope_section,
    }
    config = Qwen2_5_VLConfig(
        text_config=text_config,
        vision_config={
            "depth": 2,
            "hidden_size": VISION_HIDDEN,
            "intermediate_size": 2 * VISION_HIDDEN,
            "num_heads": 2,
            "patch_size": PATCH_SIZE,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "window_size": 112,
            "fullatt_block_indexes": [1],
            "out_hidden_size": hidden_size,
        },
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config).to(torch.float32).eval()
    _quiet_head(model, tokenizer, vocab_words)
    return _save(model, processor, tokenizer, out_dir)


# ---------------------------------------------------------------------------------------------
# InternVL


def build_tiny_internvl(
    out_dir: Path,
    seed: int = 0,
    *,
    vocab_words: Sequence[str] = DEFAULT_WORDS,
    hidden_size: int = 128,
    layers: int = 2,
) -> Path:
    """Build and save a tiny InternVL-shaped checkpoint (transformers' native class).

    Images are cut into 56×56 tiles (at most 2, plus a thumbnail when there are several;
    a square image is one tile): 4 ``<IMG_CONTEXT>`` tokens per tile between ``<img>`` and
    ``</img>``. The same arguments give byte-identical weights.
    """
    import torch
    from transformers import (
        GotOcr2ImageProcessor,
        InternVLConfig,
        InternVLForConditionalGeneration,
        InternVLProcessor,
        InternVLVideoProcessor,
        InternVLVisionConfig,
        Qwen2Config,
    )

    _check_sizes(hidden_size)
    out_dir = Path(out_dir)
    tokenizer = _chatml_tokenizer(
        INTERNVL_SPECIAL_TOKENS,
        vocab_words,
        INTERNVL_CHAT_TEMPLATE,
        {
            "start_image_token": "<img>",
            "end_image_token": "</img>",
            "context_image_token": "<IMG_CONTEXT>",
            "video_token": "<video>",
        },
    )
    downsample_ratio = 0.5
    image_seq_length = int((INTERNVL_TILE // PATCH_SIZE * downsample_ratio) ** 2)
    tile = {"height": INTERNVL_TILE, "width": INTERNVL_TILE}
    processor = InternVLProcessor(
        image_processor=GotOcr2ImageProcessor(
            size=tile, crop_to_patches=True, min_patches=1, max_patches=2
        ),
        video_processor=InternVLVideoProcessor(size=tile),
        tokenizer=tokenizer,
        image_seq_length=image_seq_length,
        chat_template=INTERNVL_CHAT_TEMPLATE,
    )
    vision_config = InternVLVisionConfig(
        hidden_size=VISION_HIDDEN,
        intermediate_size=2 * VISION_HIDDEN,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=INTERNVL_TILE,
        patch_size=PATCH_SIZE,
    )
    config = InternVLConfig(
        vision_config=vision_config,
        text_config=Qwen2Config(**_text_config(tokenizer, hidden_size, layers)),
        image_token_id=tokenizer.convert_tokens_to_ids("<IMG_CONTEXT>"),
        image_seq_length=image_seq_length,
        downsample_ratio=downsample_ratio,
        vision_feature_layer=-1,
        vision_feature_select_strategy="default",
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = InternVLForConditionalGeneration(config).to(torch.float32).eval()
    _quiet_head(model, tokenizer, vocab_words)
    return _save(model, processor, tokenizer, out_dir)


# ---------------------------------------------------------------------------------------------

FAMILIES = {"qwen2_5_vl": build_tiny_qwen25vl, "internvl": build_tiny_internvl}
IMAGE_PLACEHOLDERS = {"qwen2_5_vl": QWEN_IMAGE_PLACEHOLDER, "internvl": INTERNVL_IMAGE_PLACEHOLDER}


def describe(model_dir: Path) -> dict[str, Any]:
    """A few facts about a tiny checkpoint of either family."""
    import json

    config = json.loads((Path(model_dir) / "config.json").read_text())
    size = sum(p.stat().st_size for p in Path(model_dir).iterdir() if p.is_file())
    return {
        "model_type": config["model_type"],
        "parameters": count_parameters(Path(model_dir)),
        "bytes": size,
        "vocab_size": config["text_config"]["vocab_size"],
        "hidden_size": config["text_config"]["hidden_size"],
        "layers": config["text_config"]["num_hidden_layers"],
    }
