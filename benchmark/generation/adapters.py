"""Adapters checked against their base model before any generation, for every backend.

An adapter is a peft LoRA folder: ``adapter_config.json`` plus ``adapter_model.safetensors``
or ``adapter_model.bin`` (read with ``torch.load(weights_only=True)``: nothing else is ever
unpickled), optionally with the non-LoRA tensors trained alongside it
(``non_lora_trainables.safetensors`` / ``.bin``, e.g. the projector, named as parameters of
the base model). Every tensor name is mapped onto a module or parameter of the base model,
built from its config on the ``meta`` device (no weights read), with the same key renamings
transformers applies when it loads the adapter. An adapter with tensors that match nothing,
or that would change nothing, is one clear error naming the checkpoint — never a row of
base-model accuracies.

Checkpoints saved by the original LLaVA codebase (``LlavaLlamaForCausalLM``) are recognised
and pointed at ``mllmcl-bench convert llava``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from benchmark.errors import BenchmarkError
from benchmark.generation.base import ModelSpec

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")
TRAINABLES = ("non_lora_trainables.safetensors", "non_lora_trainables.bin")
PEFT_PREFIX = "base_model.model."
ORIGINAL_LLAVA_ARCHITECTURES = (
    "LlavaLlamaForCausalLM",
    "LlavaMistralForCausalLM",
    "LlavaMptForCausalLM",
    "LlavaQwenForCausalLM",
)
CONVERT_HINT = (
    "convert the sequence once with `mllmcl-bench convert llava --base BASE --out DIR "
    "STEP_DIR ...` (see README, 'Checkpoints from the original LLaVA codebase') and "
    "submit the converted folders"
)
SHOWN = 5  # unmatched names quoted in an error


class AdapterError(BenchmarkError):
    """An adapter (or a checkpoint) that the harness cannot apply correctly."""


# -- reading tensors ----------------------------------------------------------------------


def read_tensors(file: Path) -> dict[str, Any]:
    """Tensors of a ``.safetensors`` or ``.bin`` file; ``.bin`` only as plain tensors."""
    file = Path(file)
    if file.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(file))
        except Exception as exc:  # safetensors raises its own error types
            raise AdapterError(f"{file}: not a readable safetensors file ({exc})") from None
    import pickle

    import torch

    try:
        data = torch.load(str(file), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise AdapterError(
            f"{file}: not a plain tensor file (refused to unpickle anything else: {first})"
        ) from None
    if not isinstance(data, Mapping) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in data.items()
    ):
        raise AdapterError(f"{file}: expected a mapping of names to tensors")
    return dict(data)


def tensor_shapes(file: Path) -> dict[str, tuple[int, ...]]:
    """name → shape, reading only the header of a safetensors file."""
    file = Path(file)
    if file.suffix == ".safetensors":
        from safetensors import safe_open

        try:
            with safe_open(str(file), framework="pt") as handle:
                return {k: tuple(handle.get_slice(k).get_shape()) for k in handle.keys()}  # noqa: SIM118
        except Exception as exc:
            raise AdapterError(f"{file}: not a readable safetensors file ({exc})") from None
    return {k: tuple(v.shape) for k, v in read_tensors(file).items()}


@dataclass(frozen=True)
class AdapterFiles:
    """Where an adapter's parts are."""

    path: Path
    config: dict[str, Any]
    weights: Path
    trainables: Path | None

    @property
    def rank(self) -> int:
        ranks = [int(self.config.get("r", 8))]
        ranks += [int(v) for v in (self.config.get("rank_pattern") or {}).values()]
        return max(ranks)


def adapter_files(path: Path) -> AdapterFiles:
    path = Path(path)
    config_path = path / ADAPTER_CONFIG
    if not config_path.is_file():
        raise AdapterError(f"{path}: no {ADAPTER_CONFIG} (is it a LoRA adapter folder?)")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise AdapterError(f"{config_path}: not valid JSON ({exc})") from None
    if not isinstance(config, dict):
        raise AdapterError(f"{config_path}: expected a JSON object")
    peft_type = str(config.get("peft_type", "LORA")).upper()
    if peft_type != "LORA":
        raise AdapterError(f"{path}: peft_type {peft_type}; only LoRA adapters are supported")
    weights = next((path / n for n in ADAPTER_WEIGHTS if (path / n).is_file()), None)
    if weights is None:
        raise AdapterError(f"{path}: no {' or '.join(ADAPTER_WEIGHTS)} next to {ADAPTER_CONFIG}")
    trainables = next((path / n for n in TRAINABLES if (path / n).is_file()), None)
    return AdapterFiles(path, config, weights, trainables)


# -- the base model's layout --------------------------------------------------------------


def read_model_config(path: Path) -> dict[str, Any]:
    config_path = Path(path) / "config.json"
    if not config_path.is_file():
        raise AdapterError(f"{path}: no config.json (is it a model folder?)")
    try:
        data = json.loads(config_path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise AdapterError(f"{config_path}: not valid JSON ({exc})") from None
    return data if isinstance(data, dict) else {}


def original_llava_architecture(path: Path) -> str | None:
    """The class name when ``path`` holds an original-LLaVA-codebase checkpoint."""
    config_path = Path(path) / "config.json"
    if not config_path.is_file():
        return None
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except ValueError:
        return None
    for arch in config.get("architectures") or []:
        if arch in ORIGINAL_LLAVA_ARCHITECTURES:
            return str(arch)
    if config.get("model_type") in ("llava_llama", "llava_mistral", "llava_mpt"):
        return str(config["model_type"])
    if "mm_vision_tower" in config and config.get("model_type") != "llava":
        return str(config.get("model_type") or "LLaVA codebase")
    return None


def refuse_original_llava(path: Path, what: str) -> None:
    arch = original_llava_architecture(path)
    if arch is not None:
        raise AdapterError(
            f"{what} {path} is in the original LLaVA codebase layout ({arch}), which "
            f"transformers and vLLM load with the wrong module names; {CONVERT_HINT}"
        )


@dataclass(frozen=True)
class BaseLayout:
    """Module and parameter names of a base model, without its weights."""

    path: Path
    architecture: str
    modules: frozenset[str]
    params: Mapping[str, tuple[int, ...]]
    renamings: tuple[Any, ...] = field(default=(), compare=False)

    def canonical(self, name: str) -> str:
        """A saved name as transformers renames it when loading (old layouts → current)."""
        for renaming in self.renamings:  # in turn, as transformers applies them
            try:
                name, _ = renaming.rename_source_key(name)
            except (AttributeError, TypeError, ValueError):  # an API this version lacks
                continue
        return name


@lru_cache(maxsize=8)
def _layout(path: str, trust_remote_code: bool) -> BaseLayout:
    import torch
    from transformers import AutoConfig, AutoModelForImageTextToText

    refuse_original_llava(Path(path), "base model")
    try:
        config = AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code)
        with torch.device("meta"):
            model = AutoModelForImageTextToText.from_config(
                config, trust_remote_code=trust_remote_code
            )
    except (OSError, ValueError, KeyError) as exc:
        raise AdapterError(f"cannot read the model layout of {path}: {exc}") from None
    renamings: tuple[Any, ...] = ()
    try:  # the renamings transformers applies to saved names (internal API; optional)
        from transformers.conversion_mapping import get_model_conversion_mapping
        from transformers.core_model_loading import WeightRenaming

        renamings = tuple(
            c for c in get_model_conversion_mapping(model) if isinstance(c, WeightRenaming)
        )
    except (ImportError, AttributeError, TypeError):
        pass
    return BaseLayout(
        path=Path(path),
        architecture=type(model).__name__,
        modules=frozenset(name for name, _ in model.named_modules() if name),
        params={name: tuple(p.shape) for name, p in model.named_parameters()},
        renamings=renamings,
    )


def base_layout(path: Path, *, trust_remote_code: bool = False) -> BaseLayout:
    return _layout(str(Path(path).resolve()), trust_remote_code)


# -- mapping an adapter onto its base ------------------------------------------------------

_LORA_PART = re.compile(r"\.lora_(A|B|embedding_A|embedding_B|magnitude_vector)(\.|$)")


def split_adapter_key(key: str) -> tuple[str, str | None]:
    """(module or parameter path without peft's prefix, LoRA part or None for a saved param).

    ``base_model.model.model.language_model.layers.0.self_attn.q_proj.lora_A.weight`` →
    (``model.language_model.layers.0.self_attn.q_proj``, ``A``);
    ``base_model.model.lm_head.weight`` (a ``modules_to_save`` tensor) → (``lm_head.weight``,
    None).
    """
    name = key.removeprefix(PEFT_PREFIX)
    match = _LORA_PART.search(name)
    if match is None:
        return name, None
    return name[: match.start()], match.group(1)


@dataclass
class AdapterReport:
    """What an adapter holds and where each tensor goes in the base model."""

    path: Path
    n_tensors: int
    lora_modules: dict[str, str] = field(default_factory=dict)  # saved path → base module
    saved_params: dict[str, str] = field(default_factory=dict)  # saved key → base param
    trainables: dict[str, str] = field(default_factory=dict)  # saved key → base param
    unmatched: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    zero_lora: bool = False

    @property
    def matched(self) -> int:
        return self.n_tensors - len(self.unmatched) - len(self.mismatched)

    @property
    def changes_nothing(self) -> bool:
        return self.zero_lora and not self.saved_params and not self.trainables


def _looks_like_original_llava(names: list[str]) -> bool:
    return any(
        re.match(
            r"(base_model\.model\.)?model\.(layers\.\d+|mm_projector|vision_tower\.vision_tower)", n
        )
        for n in names
    )


def inspect_against_base(
    adapter: AdapterFiles, layout: BaseLayout, *, read_values: bool = True
) -> AdapterReport:
    """Map every tensor of ``adapter`` onto ``layout``; never raises (see :func:`check`)."""
    shapes = tensor_shapes(adapter.weights)
    report = AdapterReport(adapter.path, n_tensors=len(shapes))
    for key, shape in sorted(shapes.items()):
        path, part = split_adapter_key(key)
        if part is None:
            target = layout.canonical(path)
            if target not in layout.params:
                report.unmatched.append(key)
            elif layout.params[target] != shape:
                report.mismatched.append(f"{key} {list(shape)} vs {list(layout.params[target])}")
            else:
                report.saved_params[key] = target
            continue
        module = layout.canonical(path)
        if module not in layout.modules:
            report.unmatched.append(key)
            continue
        weight = layout.params.get(f"{module}.weight")
        if weight is not None and len(weight) == 2 and len(shape) == 2 and part in ("A", "B"):
            out_features, in_features = weight
            if (part == "A" and shape[1] != in_features) or (
                part == "B" and shape[0] != out_features
            ):
                report.mismatched.append(f"{key} {list(shape)} vs {module} {list(weight)}")
                continue
        report.lora_modules[path] = module
    if adapter.trainables is not None:
        extra = tensor_shapes(adapter.trainables)
        report.n_tensors += len(extra)
        for key, shape in sorted(extra.items()):
            target = layout.canonical(key.removeprefix(PEFT_PREFIX))
            if target not in layout.params:
                report.unmatched.append(f"{adapter.trainables.name}: {key}")
            elif layout.params[target] != shape:
                wanted = list(layout.params[target])
                report.mismatched.append(
                    f"{adapter.trainables.name}: {key} {list(shape)} vs {wanted}"
                )
            else:
                report.trainables[key] = target
    if read_values and not report.unmatched and not report.mismatched:
        tensors = read_tensors(adapter.weights)
        b_parts = [v for k, v in tensors.items() if split_adapter_key(k)[1] in ("B", "embedding_B")]
        report.zero_lora = bool(b_parts) and not any(bool(t.any()) for t in b_parts)
    return report


def check_adapter(
    adapter_dir: Path, base_dir: Path, *, label: str = "", trust_remote_code: bool = False
) -> AdapterReport:
    """Raise :class:`AdapterError` unless every tensor of the adapter has a place in the base
    and the adapter changes something."""
    who = f"{label}: " if label else ""
    refuse_original_llava(Path(adapter_dir), f"{who}adapter")
    adapter = adapter_files(adapter_dir)
    layout = base_layout(base_dir, trust_remote_code=trust_remote_code)
    report = inspect_against_base(adapter, layout)
    if report.unmatched:
        names = [*report.unmatched]
        hint = (
            f"it looks saved by the original LLaVA codebase; {CONVERT_HINT}"
            if layout.architecture.startswith("Llava")
            and _looks_like_original_llava([n.split(": ")[-1] for n in names])
            else "was it trained on a different base model? check adapter_config.json's "
            "base_model_name_or_path and the entry's base_model"
        )
        raise AdapterError(
            f"{who}adapter {adapter.path}: {report.matched} of {report.n_tensors} tensors map "
            f"onto the base model {base_dir} ({layout.architecture}); "
            f"{len(names)} match no module or parameter, first: "
            f"{', '.join(names[:SHOWN])}. Loaded as it is, it would silently change nothing "
            f"there: {hint}"
        )
    if report.mismatched:
        raise AdapterError(
            f"{who}adapter {adapter.path}: {len(report.mismatched)} tensors have the wrong shape "
            f"for the base model {base_dir} ({layout.architecture}), first: "
            f"{'; '.join(report.mismatched[:SHOWN])}"
        )
    if report.changes_nothing:
        raise AdapterError(
            f"{who}adapter {adapter.path}: every lora_B tensor is zero and it saves no other "
            "weights, so it would change nothing (an adapter saved before training?)"
        )
    return report


def check_models(
    models: Mapping[int, ModelSpec], *, trust_remote_code: bool = False
) -> dict[int, AdapterReport]:
    """The pre-flight of an evaluation: every checkpoint against its base, before any model
    loads. Raises :class:`AdapterError` on the first checkpoint that cannot be used as is."""
    reports: dict[int, AdapterReport] = {}
    checked: dict[str, AdapterReport] = {}
    for step, model in sorted(models.items()):
        if model.kind == "base":
            refuse_original_llava(model.path, f"step {step}: the base model")
        elif model.kind == "full":
            refuse_original_llava(model.path, f"step {step}: checkpoint")
        else:
            if model.content_hash not in checked:
                checked[model.content_hash] = check_adapter(
                    model.path,
                    model.base_path,
                    label=f"step {step}",
                    trust_remote_code=trust_remote_code,
                )
            reports[step] = checked[model.content_hash]
    return reports
