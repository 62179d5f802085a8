"""Tiny LLaVA-1.5-shaped vision-language models, built offline, for the tests and the demo.

Everything is made here from code: no hub access. :func:`build_tiny_llava` trains a byte-level
BPE tokenizer in memory on a small corpus (so the shapes suite's answer words are one token
each), writes a LLaVA-1.5 chat template, a CLIP image processor and a randomly initialised
``LlavaForConditionalGeneration`` (llama text model, CLIP vision tower) whose weights are a
pure function of ``seed``. The directory it writes loads back with ``AutoProcessor`` and
``AutoModelForImageTextToText`` like any hub checkpoint.

:func:`make_lora_adapter` writes a peft LoRA adapter for such a model whose ``lora_B``
matrices are random rather than zero, so that it visibly changes greedy outputs.

:func:`generate_text` is a deliberately plain reference generator (one item at a time, no
batching, adapters through ``PeftModel``) to cross-check the harness's backends.

Random weights give degenerate but deterministic text. A trainer (the demo's) can start from
:func:`load_tiny` and :func:`chat_prompt`; none lives here yet.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL.Image import Image

# ---------------------------------------------------------------------------------------------
# Vocabulary and prompt format

SPECIAL_TOKENS = ("<unk>", "<s>", "</s>", "<pad>", "<image>")
UNK, BOS, EOS, PAD, IMAGE = SPECIAL_TOKENS
PATCH_SIZE = 14

COLOUR_WORDS = ("red", "green", "blue", "yellow", "purple", "orange")
SHAPE_WORDS = ("circle", "square", "triangle", "diamond")
DIGITS = tuple(str(i) for i in range(10))
NUMBER_WORDS = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
)  # fmt: skip
POSITION_WORDS = ("top", "bottom", "left", "right")
LETTERS = ("A", "B", "C", "D", "E")
QUESTION_WORDS = (
    "What", "colour", "color", "shape", "shapes", "is", "are", "the", "in", "image", "shown",
    "How", "many", "Where", "Which", "of", "a", "an", "Answer", "with", "option's", "letter",
    "word", "words", "number", "Is", "there", "this", "picture", "object", "kind", "and", "or",
)  # fmt: skip
DEFAULT_WORDS: tuple[str, ...] = (
    *COLOUR_WORDS,
    *SHAPE_WORDS,
    *DIGITS,
    *NUMBER_WORDS,
    *POSITION_WORDS,
    *LETTERS,
    "yes",
    "no",
    "Yes",
    "No",
    *(w for w in QUESTION_WORDS if w not in NUMBER_WORDS),
)

# Sentences in the shapes suite's style, so whole phrases tokenise the way prompts will.
_CORPUS_SENTENCES = (
    "What colour is the shape in the image? Answer with one word.",
    "What shape is shown in the image? Answer with one word.",
    "How many shapes are in the image? Answer with a number.",
    "Where in the image is the shape? Answer with two words.",
    "Answer with the option's letter.",
    "USER: ASSISTANT:",
)

# LLaVA-1.5 conversation format: "USER: <image>\n{text} ASSISTANT: {answer}</s>USER: ...".
# Every image of a turn comes first (one placeholder each), then its text parts; a system
# message is written as-is before the first turn; content may be a string or a list of parts.
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if message['content'] is string -%}"
    "{%- set n_images = 0 -%}{%- set texts = [message['content']] -%}"
    "{%- else -%}"
    "{%- set n_images = message['content'] | selectattr('type', 'equalto', 'image')"
    " | list | length -%}"
    "{%- set texts = message['content'] | selectattr('type', 'equalto', 'text')"
    " | map(attribute='text') | list -%}"
    "{%- endif -%}"
    "{%- if message['role'] == 'system' -%}"
    "{{ texts | join('\\n') }}{{ ' ' }}"
    "{%- elif message['role'] == 'user' -%}"
    "{{ 'USER: ' }}{{ '<image>\\n' * n_images }}{{ texts | join('\\n') }}{{ ' ' }}"
    "{%- elif message['role'] == 'assistant' -%}"
    "{{ 'ASSISTANT: ' }}{{ texts | join('\\n') }}{{ '</s>' }}"
    "{%- else -%}"
    "{{ raise_exception('unknown role: ' + message['role']) }}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ 'ASSISTANT:' }}{%- endif -%}"
)

# peft matches a string target against the full module name with re.fullmatch. Plain names
# ("q_proj") would also hit the CLIP tower's attention, so restrict by path.
LANGUAGE_MODEL_ATTENTION = r".*\.language_model\..*\.(q_proj|v_proj)"
VISION_TOWER_ATTENTION = r".*\.vision_tower\..*\.(q_proj|v_proj)"
PROJECTOR = r".*\.multi_modal_projector\.(linear_1|linear_2)"
# Language model + vision tower + projector: what vLLM drops (without
# enable_tower_connector_lora), so such adapters must go to the hf backend.
WITH_VISION = f"({LANGUAGE_MODEL_ATTENTION})|({VISION_TOWER_ATTENTION})|({PROJECTOR})"


def tokenizer_corpus(words: Sequence[str]) -> list[str]:
    """The texts the tokenizer is trained on: each word alone, after a space, and in context."""
    texts = list(words)
    texts.append(" ".join(words))
    texts.extend(_CORPUS_SENTENCES)
    texts.extend(f"{letter}. {word}" for letter, word in zip(LETTERS, words, strict=False))
    return texts


def conversation(question: str, n_images: int) -> list[dict[str, Any]]:
    """One user turn: ``n_images`` image parts, then the question."""
    content: list[dict[str, Any]] = [{"type": "image"} for _ in range(n_images)]
    content.append({"type": "text", "text": question})
    return [{"role": "user", "content": content}]


def chat_prompt(processor: Any, question: str, n_images: int) -> str:
    """The generation prompt for one question, rendered with the model's chat template."""
    return processor.apply_chat_template(
        conversation(question, n_images), add_generation_prompt=True, tokenize=False
    )


# ---------------------------------------------------------------------------------------------
# Building


def train_byte_level_bpe(specials: Sequence[str], corpus: Iterable[str]) -> Any:
    """A byte-level BPE ``tokenizers.Tokenizer`` trained in memory, ``specials`` first (ids
    0, 1, …); every corpus word ends up one token."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=4096,  # an upper bound: merging stops once every corpus word is one token
        min_frequency=1,
        special_tokens=list(specials),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(list(corpus), trainer=trainer)
    return core


def _build_tokenizer(words: Sequence[str]) -> Any:
    from tokenizers import processors
    from transformers import PreTrainedTokenizerFast

    core = train_byte_level_bpe(SPECIAL_TOKENS, tokenizer_corpus(words))
    bos_id = core.token_to_id(BOS)
    core.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, bos_id)]
    )
    # padding_side must go to the constructor: set as an attribute later it is not saved.
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        unk_token=UNK,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        extra_special_tokens={"image_token": IMAGE},
        padding_side="left",
        chat_template=CHAT_TEMPLATE,
        model_max_length=512,
    )


def build_tiny_llava(
    out_dir: Path,
    *,
    seed: int = 0,
    vocab_words: Sequence[str] = DEFAULT_WORDS,
    hidden_size: int = 128,
    layers: int = 2,
    image_size: int = 28,
    text_init_std: float | None = None,
    vision_position_std: float | None = None,
) -> Path:
    """Build and save a tiny LLaVA-1.5-shaped checkpoint; returns ``out_dir``.

    The same arguments give byte-identical files. ``image_size`` must be a multiple of 14
    (the patch size); the image takes ``(image_size // 14) ** 2`` prompt tokens.

    ``text_init_std`` (default: transformers' 0.02) is the spread of the language model's
    weights. At 0.02 a model this narrow attends almost uniformly and passes image features
    on at ~1/20 of their size, so it cannot learn what depends on where things are; the demo
    uses ``hidden_size ** -0.5``. ``vision_position_std`` (default 0.02) is that of the
    vision tower's position embeddings: at 0.02 every white patch looks the same wherever
    it is; the demo uses 0.3, so each patch's features say where it is.
    """
    import torch
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        GenerationConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    if image_size < PATCH_SIZE or image_size % PATCH_SIZE:
        raise ValueError(f"image_size must be a positive multiple of {PATCH_SIZE}")
    if hidden_size % 2:
        raise ValueError("hidden_size must be even (two attention heads)")
    out_dir = Path(out_dir)
    tokenizer = _build_tokenizer(vocab_words)
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in SPECIAL_TOKENS}
    image_seq_length = (image_size // PATCH_SIZE) ** 2

    image_processor = CLIPImageProcessor(
        size={"shortest_edge": image_size},
        crop_size={"height": image_size, "width": image_size},
    )
    processor = LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=PATCH_SIZE,
        vision_feature_select_strategy="default",
        chat_template=CHAT_TEMPLATE,
        image_token=IMAGE,
        num_additional_image_tokens=1,  # CLIP's CLS token, dropped by the "default" strategy
    )

    text_config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=layers,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=ids[BOS],
        eos_token_id=ids[EOS],
        pad_token_id=ids[PAD],
        tie_word_embeddings=False,
        **({} if text_init_std is None else {"initializer_range": text_init_std}),
    )
    vision_config = CLIPVisionConfig(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=image_size,
        patch_size=PATCH_SIZE,
        projection_dim=64,
    )
    config = LlavaConfig(
        vision_config=vision_config,
        text_config=text_config,
        image_token_index=ids[IMAGE],
        image_seq_length=image_seq_length,
        vision_feature_select_strategy="default",
        vision_feature_layer=-2,
        tie_word_embeddings=False,
    )
    config.bos_token_id, config.eos_token_id, config.pad_token_id = ids[BOS], ids[EOS], ids[PAD]

    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config).to(torch.float32).eval()
    # Random weights would mostly pick single-byte tokens, which decode to invalid UTF-8.
    # Zero every output row but EOS's and those of the space-prefixed vocabulary words, so an
    # untrained model answers with (random) whole words: " circle circle red". Training can
    # still change every row.
    with torch.no_grad():
        head = model.get_output_embeddings().weight
        vocab = tokenizer.get_vocab()
        loud = {ids[EOS]} | {vocab[t] for t in (f"\u0120{w}" for w in vocab_words) if t in vocab}
        quiet = [i for i in range(head.shape[0]) if i not in loud]
        head[quiet] = 0.0
        # The default init (std 0.02) shrinks image features to ~1/30 of a text embedding's
        # spread, and a tiny model then never learns to look at the image. Fan-in scaled
        # projector weights keep the image signal as strong as the text's.
        projector = model.model.multi_modal_projector
        for layer in (projector.linear_1, projector.linear_2):
            layer.weight.normal_(0.0, layer.weight.shape[1] ** -0.5)
            layer.bias.zero_()
        if vision_position_std is not None:
            model.model.vision_tower.embeddings.position_embedding.weight.normal_(
                0.0, vision_position_std
            )
    model.generation_config = GenerationConfig(
        do_sample=False,
        bos_token_id=ids[BOS],
        eos_token_id=ids[EOS],
        pad_token_id=ids[PAD],
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    return out_dir


def count_parameters(model_dir: Path) -> int:
    """Number of parameters stored in a directory's ``*.safetensors`` files (model or adapter)."""
    from safetensors import safe_open

    files = sorted(Path(model_dir).glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"no .safetensors files in {model_dir}")
    total = 0
    for path in files:
        with safe_open(str(path), framework="pt") as handle:
            for name in handle.keys():  # noqa: SIM118 - safe_open is not a mapping
                count = 1
                for dim in handle.get_slice(name).get_shape():
                    count *= dim
                total += count
    return total


def make_lora_adapter(
    base_dir: Path,
    out_dir: Path,
    *,
    seed: int,
    rank: int = 8,
    target_modules: str | list[str] = LANGUAGE_MODEL_ATTENTION,
    modules_to_save: list[str] | None = None,
    init_scale: float = 0.5,
    vision: bool = False,
    base_model_name_or_path: str | None = None,
) -> Path:
    """Save a peft LoRA adapter for a :func:`build_tiny_llava` model; returns ``out_dir``.

    ``lora_B`` is seeded random (times ``init_scale``) instead of peft's zeros, so the adapter
    changes outputs; the same base and arguments give byte-identical files. ``vision=True``
    widens the default target to the vision tower and the projector (:data:`WITH_VISION`).
    ``base_model_name_or_path`` is recorded in ``adapter_config.json``: by default the base
    directory's name, so the adapter's bytes do not depend on where the base lives. peft's
    generated README (which names the path) is not kept.
    """
    import torch
    from peft import LoraConfig, get_peft_model

    base_dir, out_dir = Path(base_dir), Path(out_dir)
    if vision:
        if target_modules != LANGUAGE_MODEL_ATTENTION:
            raise ValueError("vision=True widens the default target_modules; pass one or the other")
        target_modules = WITH_VISION
    model, _ = load_tiny(base_dir)
    config = LoraConfig(
        r=rank,
        lora_alpha=2 * rank,
        lora_dropout=0.0,
        target_modules=target_modules,
        modules_to_save=modules_to_save,
        bias="none",
    )
    torch.manual_seed(seed)  # lora_A (and any modules_to_save copy) init draws from here
    peft_model = get_peft_model(model, config)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in sorted(peft_model.named_parameters()):
            if ".lora_B." in name:
                param.copy_(torch.randn(param.shape, generator=generator) * init_scale)
    out_dir.mkdir(parents=True, exist_ok=True)
    # Saved with the real base path (peft reads the base's config.json while saving), then
    # the recorded path is replaced, so the files do not depend on where the base lives.
    peft_model.save_pretrained(out_dir)
    config_path = out_dir / "adapter_config.json"
    saved = json.loads(config_path.read_text())
    saved["base_model_name_or_path"] = base_model_name_or_path or base_dir.name
    config_path.write_text(json.dumps(saved, indent=2, sort_keys=True) + "\n")
    (out_dir / "README.md").unlink(missing_ok=True)  # peft's model card names the base's path
    return out_dir


def adapter_targets(adapter_dir: Path) -> list[str]:
    """Module paths (relative to the model) an adapter's tensors touch, sorted.

    E.g. ``model.language_model.layers.0.self_attn.q_proj`` or ``lm_head`` (a saved module).
    """
    from safetensors import safe_open

    with safe_open(str(Path(adapter_dir) / "adapter_model.safetensors"), framework="pt") as f:
        names = list(f.keys())
    targets = set()
    for name in names:
        for marker in (".lora_A.", ".lora_B.", ".lora_embedding_A", ".lora_embedding_B"):
            if marker in name:
                name = name.split(marker)[0]
                break
        else:
            name = name.rsplit(".", 1)[0]
        targets.add(name.removeprefix("base_model.model."))
    return sorted(targets)


# ---------------------------------------------------------------------------------------------
# Loading and generating


def load_tiny(model_dir: Path) -> tuple[Any, Any]:
    """``(model, processor)`` for a checkpoint directory, float32, eval mode, on CPU."""
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from benchmark.generation.hf import pil_image_processor

    processor = AutoProcessor.from_pretrained(model_dir)
    pil_image_processor(processor, model_dir)  # as the hf backend: the same pixels anywhere
    model = AutoModelForImageTextToText.from_pretrained(model_dir, dtype=torch.float32)
    return model.eval(), processor


def generate_ids(
    model: Any,
    processor: Any,
    prompts_and_images: list[tuple[str, list[Image]]],
    max_new_tokens: int = 8,
) -> list[list[int]]:
    """Greedy new-token ids, one item at a time (no padding), up to and excluding EOS."""
    import torch

    eos = processor.tokenizer.eos_token_id
    out: list[list[int]] = []
    for question, images in prompts_and_images:
        prompt = chat_prompt(processor, question, len(images))
        inputs = processor(text=[prompt], images=list(images) or None, return_tensors="pt")
        with torch.inference_mode():
            output = model.generate(
                **inputs,
                do_sample=False,
                num_beams=1,
                max_new_tokens=max_new_tokens,
                repetition_penalty=1.0,
                pad_token_id=processor.tokenizer.pad_token_id,
            )
        new = output[0, inputs["input_ids"].shape[1] :].tolist()
        out.append(new[: new.index(eos)] if eos in new else new)
    return out


def generate_text(
    model_dir: Path,
    prompts_and_images: list[tuple[str, list[Image]]],
    max_new_tokens: int = 8,
    adapter_dir: Path | None = None,
) -> list[str]:
    """Reference greedy answers (special tokens removed, stripped), one item at a time.

    With ``adapter_dir`` the adapter is applied through ``peft.PeftModel`` (a different path
    from the harness's ``model.load_adapter``, so the two cross-check each other).
    """
    model, processor = load_tiny(Path(model_dir))
    if adapter_dir is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter_dir)).eval()
    ids = generate_ids(model, processor, prompts_and_images, max_new_tokens)
    texts = processor.tokenizer.batch_decode(ids, skip_special_tokens=True)
    return [text.strip() for text in texts]


def describe(model_dir: Path) -> dict[str, Any]:
    """A few facts about a tiny checkpoint (for logs and the demo's README)."""
    config = json.loads((Path(model_dir) / "config.json").read_text())
    return {
        "parameters": count_parameters(Path(model_dir)),
        "vocab_size": config["text_config"]["vocab_size"],
        "hidden_size": config["text_config"]["hidden_size"],
        "layers": config["text_config"]["num_hidden_layers"],
        "image_size": config["vision_config"]["image_size"],
        "image_seq_length": config["image_seq_length"],
    }
