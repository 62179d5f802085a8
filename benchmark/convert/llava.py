"""The original LLaVA codebase's checkpoints → transformers' ``LlavaForConditionalGeneration``.

Almost every published continual-learning method for MLLMs (MR-LoRA, CoIN, MCITlib,
HiDe-LLaVA) trains with the original LLaVA codebase. Its checkpoints name tensors after
``LlavaLlamaForCausalLM`` (``model.layers.N…``, ``model.mm_projector.0/2``), which match no
module of transformers' LLaVA (``model.language_model.layers.N…``,
``model.multi_modal_projector.linear_1/2``): loaded as they are, adapters silently change
nothing. This module converts, once, before evaluation:

- **a base**: an original ``LlavaLlamaForCausalLM`` folder, or a Vicuna/LLaMA folder plus a
  stage-1 ``mm_projector.bin``, plus the CLIP tower named by ``mm_vision_tower`` → a
  ``LlavaForConditionalGeneration`` folder with its processor: the tokenizer with ``<image>``
  appended and ``legacy: true`` (so a ``▁`` follows the image as in LLaVA's own tokenisation),
  pad-to-square preprocessing with the image mean (``image_aspect_ratio: pad``), the vision
  feature layer and patch selection of the config, and the ``vicuna_v1`` chat template;
- **each step's adapter**: LoRA tensors renamed (targets restricted to exactly the converted
  modules, so a plain ``q_proj`` cannot also hit the vision tower) and the step's
  ``non_lora_trainables.bin`` (its trained projector) written as
  ``non_lora_trainables.safetensors`` under transformers' parameter names, which the hf
  backend applies for that step only.

The new vocabulary row for ``<image>`` is zero in ``embed_tokens`` (never read: image
positions are replaced by image features) and in ``lm_head`` (its logit is 0, so greedy
decoding picks it only if every real token's logit is negative).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmark.errors import BenchmarkError
from benchmark.generation.adapters import (
    ADAPTER_CONFIG,
    PEFT_PREFIX,
    adapter_files,
    check_adapter,
    original_llava_architecture,
    read_model_config,
    read_tensors,
)

VICUNA_V1_SYSTEM = (
    "A chat between a curious user and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the user's questions."
)
# vicuna_v1 as LLaVA-1.5 evaluates: "<system> USER: <image>\n<question> ASSISTANT:" (BOS added
# by the tokenizer; turns end with </s>). One "<image>\n" per image, before the text.
VICUNA_V1_TEMPLATE = (
    "{%- set system = namespace(text='" + VICUNA_V1_SYSTEM.replace("'", "\\'") + "') -%}"
    "{%- for message in messages if message['role'] == 'system' -%}"
    "{%- set system.text = message['content'] if message['content'] is string "
    "else message['content'][0]['text'] -%}"
    "{%- endfor -%}"
    "{{- system.text -}}"
    "{%- for message in messages if message['role'] != 'system' -%}"
    "{%- if message['role'] == 'user' -%}"
    "{{- ' USER: ' -}}"
    "{%- if message['content'] is string -%}{{- message['content'] -}}"
    "{%- else -%}"
    "{%- for part in message['content'] if part['type'] == 'image' -%}{{- '<image>\n' -}}"
    "{%- endfor -%}"
    "{%- for part in message['content'] if part['type'] == 'text' -%}{{- part['text'] -}}"
    "{%- endfor -%}"
    "{%- endif -%}"
    "{%- else -%}"
    "{{- ' ASSISTANT: ' -}}"
    "{%- if message['content'] is string -%}{{- message['content'] -}}"
    "{%- else -%}{%- for part in message['content'] if part['type'] == 'text' -%}"
    "{{- part['text'] -}}{%- endfor -%}{%- endif -%}"
    "{{- '</s>' -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- ' ASSISTANT:' -}}{%- endif -%}"
)
IMAGE_TOKEN = "<image>"
# LLaMA text config fields carried over from the original config.
LLAMA_FIELDS = (
    "vocab_size",
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
    "hidden_act",
    "max_position_embeddings",
    "rms_norm_eps",
    "rope_theta",
    "rope_scaling",
    "attention_bias",
    "mlp_bias",
    "tie_word_embeddings",
    "initializer_range",
    "bos_token_id",
    "eos_token_id",
)
# LLaVA-1.5's multimodal settings, used where a config does not say.
LLAVA_15 = {
    "mm_vision_select_layer": -2,
    "mm_vision_select_feature": "patch",
    "mm_projector_type": "mlp2x_gelu",
    "image_aspect_ratio": "pad",
    "mm_use_im_start_end": False,
    "mm_use_im_patch_token": False,
}
# Original name prefix → transformers 5 name prefix (after peft's prefix is removed).
RENAMES = (
    ("model.embed_tokens.", "model.language_model.embed_tokens."),
    ("model.layers.", "model.language_model.layers."),
    ("model.norm.", "model.language_model.norm."),
    ("model.mm_projector.0.", "model.multi_modal_projector.linear_1."),
    ("model.mm_projector.2.", "model.multi_modal_projector.linear_2."),
    ("model.vision_tower.vision_tower.vision_model.", "model.vision_tower."),
    ("lm_head.", "lm_head."),
)
VOCAB_PARAMS = ("model.language_model.embed_tokens.weight", "lm_head.weight")
WEIGHT_FILES = ("*.safetensors", "pytorch_model*.bin")
NOT_MODEL_WEIGHTS = {"mm_projector.bin", "non_lora_trainables.bin", "adapter_model.bin"}

Progress = Callable[[str], None]


class ConversionError(BenchmarkError):
    """A checkpoint the LLaVA converter cannot convert faithfully."""


def rename(name: str) -> str | None:
    """An original LLaVA tensor name (peft prefix allowed) → transformers' name, or None."""
    bare = name.removeprefix(PEFT_PREFIX)
    for old, new in RENAMES:
        if bare.startswith(old):
            return new + bare[len(old) :]
    return None


def read_folder_weights(folder: Path) -> dict[str, Any]:
    """Every tensor of a model folder (safetensors shards first, else pytorch_model*.bin)."""
    folder = Path(folder)
    for pattern in WEIGHT_FILES:
        files = sorted(
            p
            for p in folder.glob(pattern)
            if p.name not in NOT_MODEL_WEIGHTS and "adapter" not in p.name
        )
        if files:
            tensors: dict[str, Any] = {}
            for file in files:
                tensors.update(read_tensors(file))
            return tensors
    raise ConversionError(f"{folder}: no model weights (*.safetensors or pytorch_model*.bin)")


def _resolve_tower(reference: str, near: Sequence[Path]) -> Path:
    """The CLIP tower folder: a path (absolute, or relative to the checkpoint), or a hub id
    fetched with huggingface_hub (offline: from its cache)."""
    path = Path(reference).expanduser()
    candidates = [path] if path.is_absolute() else [folder / path for folder in near] + [path]
    for candidate in candidates:
        if (candidate / "config.json").is_file():
            return candidate
    if re.fullmatch(r"[\w.-]+/[\w.-]+", reference):
        from huggingface_hub import snapshot_download

        try:
            return Path(
                snapshot_download(
                    reference,
                    allow_patterns=["*.json", "*.safetensors", "*.bin", "*.txt"],
                )
            )
        except Exception as exc:  # the hub raises many types; one line for the user
            raise ConversionError(
                f"vision tower {reference!r}: not a local folder and cannot be fetched "
                f"({type(exc).__name__}: {exc}); pass --vision-tower DIR"
            ) from None
    raise ConversionError(f"vision tower {reference!r}: no such folder; pass --vision-tower DIR")


def _tower_weights(tower: Path) -> dict[str, Any]:
    out = {}
    for name, tensor in read_folder_weights(tower).items():
        if name.startswith("vision_model."):
            out["model.vision_tower." + name[len("vision_model.") :]] = tensor
    if not out:
        raise ConversionError(f"{tower}: no vision_model.* tensors (is it a CLIP checkpoint?)")
    return out


def _image_processor(tower: Path) -> Any:
    from transformers.models.llava.image_processing_pil_llava import LlavaImageProcessorPil

    config_path = tower / "preprocessor_config.json"
    if not config_path.is_file():
        raise ConversionError(f"{tower}: no preprocessor_config.json (the CLIP image settings)")
    saved = json.loads(config_path.read_text(encoding="utf-8"))
    size = saved.get("size", {"shortest_edge": 336})
    if isinstance(size, int):
        size = {"shortest_edge": size}
    crop = saved.get("crop_size", {"height": 336, "width": 336})
    if isinstance(crop, int):
        crop = {"height": crop, "width": crop}
    return LlavaImageProcessorPil(
        do_pad=True,  # LLaVA-1.5 pads to a square with the image mean before resizing
        do_resize=saved.get("do_resize", True),
        size=size,
        resample=saved.get("resample", 3),
        do_center_crop=saved.get("do_center_crop", True),
        crop_size=crop,
        do_rescale=saved.get("do_rescale", True),
        rescale_factor=saved.get("rescale_factor", 1 / 255),
        do_normalize=saved.get("do_normalize", True),
        image_mean=saved.get("image_mean"),
        image_std=saved.get("image_std"),
        do_convert_rgb=True,
    )


def _tokenizer(folder: Path) -> Any:
    from tokenizers import AddedToken
    from transformers import AutoTokenizer

    try:
        # legacy=True: a "▁" starts the text after <image>, as LLaVA tokenises each chunk
        tokenizer = AutoTokenizer.from_pretrained(folder, legacy=True, padding_side="left")
    except (OSError, ValueError, ImportError) as exc:
        raise ConversionError(
            f"{folder}: cannot build the tokenizer ({exc}); a tokenizer.model needs "
            "`pip install 'mllmcl-bench[convert]'` (sentencepiece)"
        ) from None
    if IMAGE_TOKEN not in tokenizer.get_vocab():
        tokenizer.add_tokens(
            [AddedToken(IMAGE_TOKEN, special=True, normalized=False)], special_tokens=True
        )
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.unk_token  # as LLaVA's vicuna_v1 training does
    return tokenizer


@dataclass
class ConvertedBase:
    path: Path
    image_token_id: int
    vocab_size: int  # after adding <image>
    original_vocab_size: int


def _pad_vocab(tensor: Any, rows: int) -> Any:
    import torch

    if tensor.shape[0] >= rows:
        return tensor
    pad = torch.zeros((rows - tensor.shape[0], *tensor.shape[1:]), dtype=tensor.dtype)
    return torch.cat([tensor, pad], dim=0)


def convert_base(
    out: Path,
    *,
    base: Path | None = None,
    language_model: Path | None = None,
    projector: Path | None = None,
    vision_tower: str | None = None,
    mm_config: dict[str, Any] | None = None,
    progress: Progress = lambda _: None,
) -> ConvertedBase:
    """Write a ``LlavaForConditionalGeneration`` folder (weights, config, processor) to ``out``.

    Give ``base`` (an original ``LlavaLlamaForCausalLM`` folder) or ``language_model`` (a
    LLaMA/Vicuna folder) with ``projector`` (a stage-1 ``mm_projector.bin``); ``mm_config``
    supplies the ``mm_*`` settings a bare language model lacks (a step's ``config.json``).
    """
    import torch
    from transformers import (
        CLIPVisionConfig,
        GenerationConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    if (base is None) == (language_model is None):
        raise ConversionError("give either --base (a LLaVA folder) or --language-model")
    source = Path(base or language_model)  # type: ignore[arg-type]
    config = read_model_config(source)
    if base is not None and original_llava_architecture(source) is None:
        raise ConversionError(
            f"{source}: not an original LLaVA checkpoint (architectures "
            f"{config.get('architectures')}); for a language model give --language-model"
        )
    config = {**LLAVA_15, **(mm_config or {}), **config}
    if config["mm_projector_type"] != "mlp2x_gelu":
        raise ConversionError(
            f"{source}: mm_projector_type {config['mm_projector_type']!r}; transformers' LLaVA "
            "has the two-layer GELU projector (mlp2x_gelu) only"
        )
    if config.get("mm_use_im_start_end") or config.get("mm_use_im_patch_token"):
        raise ConversionError(
            f"{source}: mm_use_im_start_end/mm_use_im_patch_token are not supported"
        )
    if config["image_aspect_ratio"] not in ("pad", "square", None):
        raise ConversionError(
            f"{source}: image_aspect_ratio {config['image_aspect_ratio']!r} (anyres is "
            "LLaVA-NeXT, not converted here)"
        )
    progress(f"reading {source}")
    original = read_folder_weights(source)
    if projector is not None:
        original.update(
            {k.removeprefix(PEFT_PREFIX): v for k, v in read_tensors(projector).items()}
        )
    tower_ref = vision_tower or config.get("mm_vision_tower")
    if not tower_ref:
        raise ConversionError(f"{source}: config has no mm_vision_tower; pass --vision-tower")
    tower = _resolve_tower(
        str(tower_ref), [source, source.parent, *([projector.parent] if projector else [])]
    )
    progress(f"vision tower {tower}")

    state: dict[str, Any] = _tower_weights(tower)
    unknown, tower_differs = [], False
    for name, tensor in original.items():
        new = rename(name)
        if new is None:
            if "rotary_emb.inv_freq" in name:
                continue  # a buffer older transformers saved; recomputed on load
            unknown.append(name)
            continue
        if new.startswith("model.vision_tower."):
            # LLaVA-1.5's loader ignores a tower saved in the checkpoint and reloads the one
            # mm_vision_tower names: so do we (and say so when the two differ)
            same = new in state and state[new].shape == tensor.shape
            tower_differs |= not (same and bool((state[new] == tensor.to(state[new].dtype)).all()))
            continue
        state[new] = tensor
    if tower_differs:
        progress(
            f"note: the vision tower saved in {source} differs from {tower}; the original "
            "loader uses the latter, and so does the conversion"
        )
    if unknown:
        raise ConversionError(
            f"{source}: {len(unknown)} tensors with no place in LlavaForConditionalGeneration, "
            f"first: {', '.join(sorted(unknown)[:5])}"
        )
    missing = [p for p in ("model.multi_modal_projector.linear_1.weight",) if p not in state]
    if missing:
        raise ConversionError(
            f"{source}: no projector weights (model.mm_projector.*); give the stage-1 "
            "projector with --projector mm_projector.bin"
        )

    tokenizer = _tokenizer(source)
    image_token_id = tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
    original_vocab = int(config["vocab_size"])
    vocab = max(original_vocab, image_token_id + 1, len(tokenizer))
    for name in VOCAB_PARAMS:
        if name in state:
            state[name] = _pad_vocab(state[name], vocab)
    if config.get("tie_word_embeddings") and "lm_head.weight" not in state:
        state["lm_head.weight"] = state["model.language_model.embed_tokens.weight"]  # tied

    vision_config = CLIPVisionConfig.from_pretrained(tower)
    text_config = LlamaConfig(**{k: config[k] for k in LLAMA_FIELDS if k in config})
    text_config.vocab_size = vocab
    text_config.pad_token_id = tokenizer.pad_token_id
    patches = (vision_config.image_size // vision_config.patch_size) ** 2
    select = config["mm_vision_select_feature"]
    if select not in ("patch", "cls_patch"):
        raise ConversionError(f"{source}: mm_vision_select_feature {select!r} not supported")
    llava_config = LlavaConfig(
        text_config=text_config,
        vision_config=vision_config,
        image_token_id=image_token_id,
        projector_hidden_act="gelu",
        vision_feature_layer=int(config["mm_vision_select_layer"]),
        vision_feature_select_strategy="default" if select == "patch" else "full",
        image_seq_length=patches if select == "patch" else patches + 1,
        multimodal_projector_bias=True,
        tie_word_embeddings=bool(config.get("tie_word_embeddings", False)),
    )
    dtype = next(iter(original.values())).dtype
    with torch.device("meta"):
        model = LlavaForConditionalGeneration(llava_config)
    expected = set(model.state_dict())
    extra, absent = sorted(set(state) - expected), sorted(expected - set(state))
    if extra or absent:
        raise ConversionError(
            f"{source}: converted weights do not fit LlavaForConditionalGeneration: "
            f"{len(absent)} missing (first: {', '.join(absent[:3])}), {len(extra)} unexpected "
            f"(first: {', '.join(extra[:3])})"
        )
    model.load_state_dict({k: v.to(dtype) for k, v in state.items()}, strict=True, assign=True)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    progress(f"writing {out}")
    model.save_pretrained(out)
    processor = LlavaProcessor(
        image_processor=_image_processor(tower),
        tokenizer=tokenizer,
        patch_size=vision_config.patch_size,
        vision_feature_select_strategy=llava_config.vision_feature_select_strategy,
        num_additional_image_tokens=1,  # CLIP's CLS token
        chat_template=VICUNA_V1_TEMPLATE,
        image_token=IMAGE_TOKEN,
    )
    processor.save_pretrained(out)
    return ConvertedBase(out, image_token_id, vocab, original_vocab)


def _adapter_targets(names: Sequence[str]) -> list[str]:
    modules = set()
    for name in names:
        match = re.search(r"\.lora_(A|B|embedding_A|embedding_B|magnitude_vector)(\.|$)", name)
        if match is not None:
            modules.add(name[: match.start()].removeprefix(PEFT_PREFIX))
    return sorted(modules)


# modules_to_save entries (matched by name suffix) → their transformers counterparts
SAVED_MODULE_NAMES = {
    "embed_tokens": "embed_tokens",
    "lm_head": "lm_head",
    "mm_projector": "multi_modal_projector",
}
KEPT_ADAPTER_FIELDS = (
    "r",
    "lora_alpha",
    "lora_dropout",
    "bias",
    "fan_in_fan_out",
    "use_rslora",
    "rank_pattern",
    "alpha_pattern",
    "use_dora",
)


def convert_adapter(step_dir: Path, out: Path, *, base: ConvertedBase | Path) -> Path:
    """Write a step's adapter (+ its non-LoRA trainables) in transformers' names to ``out``,
    and check that every tensor lands on a module or parameter of the converted base."""
    from safetensors.torch import save_file

    step_dir = Path(step_dir)
    files = adapter_files(step_dir)
    vocab = base.vocab_size if isinstance(base, ConvertedBase) else None
    base_path = base.path if isinstance(base, ConvertedBase) else Path(base)

    def converted(tensors: dict[str, Any], *, peft_prefix: bool) -> dict[str, Any]:
        out_tensors, unknown = {}, []
        for name, tensor in tensors.items():
            new = rename(name)
            if new is None:
                unknown.append(name)
                continue
            if vocab is not None and any(new.startswith(p.rsplit(".", 1)[0]) for p in VOCAB_PARAMS):
                # a LoRA or saved copy of embed_tokens/lm_head grows by the <image> row
                if ".lora_B." in new or ".lora_" not in new:
                    tensor = _pad_vocab(tensor, vocab)
                elif ".lora_embedding_A" in new:
                    tensor = _pad_vocab(tensor.T, vocab).T.contiguous()
            out_tensors[(PEFT_PREFIX if peft_prefix else "") + new] = tensor.contiguous()
        if unknown:
            raise ConversionError(
                f"{step_dir}: {len(unknown)} tensors with no place in the converted model, "
                f"first: {', '.join(sorted(unknown)[:5])}"
            )
        return out_tensors

    lora = converted(read_tensors(files.weights), peft_prefix=True)
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    targets = _adapter_targets(list(lora))
    config = {k: files.config[k] for k in KEPT_ADAPTER_FIELDS if k in files.config}
    for field in ("rank_pattern", "alpha_pattern"):  # keys are module names: rename them too
        if config.get(field):
            config[field] = {
                (rename(f"{key}.") or f"{key}.").rstrip("."): value
                for key, value in config[field].items()
            }
    modules_to_save = []
    for module in files.config.get("modules_to_save") or []:
        if module not in SAVED_MODULE_NAMES:  # dropping it would leave its weights unguarded
            raise ConversionError(
                f"{step_dir}: modules_to_save {module!r} has no known counterpart in "
                f"LlavaForConditionalGeneration (known: {', '.join(SAVED_MODULE_NAMES)})"
            )
        modules_to_save.append(SAVED_MODULE_NAMES[module])
    config.update(
        peft_type="LORA",
        task_type=None,
        # exactly the converted modules: a bare "q_proj" would also hit the vision tower
        target_modules="|".join(re.escape(t) for t in targets),
        modules_to_save=modules_to_save or None,
        base_model_name_or_path=base_path.name,
        inference_mode=True,
    )
    (out / ADAPTER_CONFIG).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    save_file(lora, str(out / "adapter_model.safetensors"))
    if files.trainables is not None:
        extra = converted(read_tensors(files.trainables), peft_prefix=False)
        save_file(extra, str(out / "non_lora_trainables.safetensors"))
    check_adapter(out, base_path, label=f"converted {step_dir.name}")
    return out


def convert_sequence(
    out: Path,
    steps: Sequence[Path],
    *,
    base: Path | None = None,
    language_model: Path | None = None,
    projector: Path | None = None,
    vision_tower: str | None = None,
    progress: Progress = lambda _: None,
) -> tuple[Path, list[Path]]:
    """A whole sequence: ``out/base`` and ``out/step-N`` for each adapter, in order."""
    out = Path(out)
    mm_config = None
    if language_model is not None and steps:
        step_config = Path(steps[0]) / "config.json"
        if step_config.is_file():  # the LLaVA training script saves the mm_* settings there
            saved = json.loads(step_config.read_text(encoding="utf-8"))
            mm_config = {
                k: v for k, v in saved.items() if k.startswith("mm_") or k == "image_aspect_ratio"
            }
    converted_base = convert_base(
        out / "base",
        base=base,
        language_model=language_model,
        projector=projector,
        vision_tower=vision_tower,
        mm_config=mm_config,
        progress=progress,
    )
    adapters = []
    for index, step in enumerate(steps, start=1):
        progress(f"converting step {index}: {step}")
        adapters.append(convert_adapter(step, out / f"step-{index}", base=converted_base))
    return converted_base.path, adapters
