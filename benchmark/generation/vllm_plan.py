"""What vLLM can serve, decided before any engine starts (no ``vllm`` import needed).

- :func:`inspect_adapter`: everything in an adapter vLLM refuses (the features its
  ``PEFTHelper`` rejects, often only inside the running engine, which then dies) or would
  silently mishandle (LoRA outside the language model, judged on the base's module tree;
  ``non_lora_trainables``); :func:`unservable_steps` adds architectures without vLLM LoRA
  support (asked of vLLM's registry when it is installed).
- :func:`plan_run`: how a run's jobs split between one engine per base, one per full
  checkpoint, and hf (only where the plan allowed mixing); :func:`lora_specs` gives every
  adapter a unique ``LoRARequest`` name and id from its content hash, and
  :func:`max_lora_rank` the smallest allowed rank covering them.

``make test-vllm`` checks these against vLLM's own validation code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmark.errors import BenchmarkError
from benchmark.generation.adapters import (
    BaseLayout,
    adapter_files,
    base_layout,
    split_adapter_key,
    tensor_shapes,
)
from benchmark.generation.base import (
    GenerationJob,
    ModelSpec,
)

ALLOWED_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)
# Name fragments of parameters outside the language model, across common VLM layouts.
NON_LANGUAGE_MODULES = (
    "vision_tower",
    "vision_model",
    "visual.",
    "multi_modal_projector",
    "mm_projector",
    "vision_embed",
    "image_newline",
)
# String inits vLLM serves like plain LoRA; any other (PiSSA, OLoRA, CorDA, LoftQ …) changes
# the base weights when peft loads the adapter, and vLLM refuses it (vllm/lora/peft_helper.py).
SERVED_INITS = ("gaussian", "eva", "orthogonal", "mica", "lora_ga")
# adapter_config.json features vLLM refuses inside the running engine (which then dies).
REFUSED_FEATURES = {
    "lora_bias": "LoRA bias (lora_bias)",
    "alora_invocation_tokens": "aLoRA (alora_invocation_tokens)",
    "layer_replication": "layer_replication",
    "use_qalora": "QALoRA (use_qalora)",
    "use_bdlora": "BD-LoRA (use_bdlora)",
}
ALLOWED_MODULES_TO_SAVE = {"classifier", "score"}


@dataclass(frozen=True)
class AdapterCheck:
    """Why (or whether) vLLM can serve an adapter as a LoRARequest."""

    path: Path
    rank: int
    reasons: tuple[str, ...]

    @property
    def supported(self) -> bool:
        return not self.reasons


def in_language_model(module: str) -> bool:
    """Whether a module path is inside the language model (transformers' VLM layouts keep it
    under ``language_model``); anything else — tower, projector, unknown — is not."""
    return "language_model" in module.split(".")


def inspect_adapter(adapter_dir: Path, layout: BaseLayout | None = None) -> AdapterCheck:
    """Read adapter_config.json (and tensor names) and list what vLLM cannot serve.

    With the base's ``layout`` tensor names are judged under the names transformers loads
    them with; an adapter module that is not inside the language model — a vision tower, a
    projector, or a part of an unknown layout — is something vLLM would drop silently.
    """
    files = adapter_files(Path(adapter_dir))
    config = files.config
    reasons: list[str] = []
    rank = files.rank
    if rank > ALLOWED_LORA_RANKS[-1]:
        reasons.append(f"rank {rank} above vLLM's maximum {ALLOWED_LORA_RANKS[-1]}")
    saved = set(config.get("modules_to_save") or []) - ALLOWED_MODULES_TO_SAVE
    if saved:
        reasons.append(f"modules_to_save {sorted(saved)}")
    if config.get("use_dora"):
        reasons.append("DoRA")
    if config.get("bias", "none") != "none":
        reasons.append(f"LoRA bias {config.get('bias')!r}")
    reasons += [label for key, label in REFUSED_FEATURES.items() if config.get(key)]
    init = config.get("init_lora_weights", True)
    if isinstance(init, str) and init.lower() not in SERVED_INITS:
        reasons.append(f"init_lora_weights {init!r} (changes the base weights when loaded)")
    modules = {path for path, part in map(split_adapter_key, tensor_shapes(files.weights)) if part}
    if layout is not None:  # the names transformers (and vLLM's mapper) load them under
        modules = {layout.canonical(m) for m in modules}
    outside = sorted(m for m in modules if not in_language_model(m))
    if outside:
        known = sorted({f.rstrip(".") for f in NON_LANGUAGE_MODULES for m in outside if f in m})
        where = ", ".join(known) if known else f"cannot tell which part holds {outside[0]}"
        reasons.append(
            f"LoRA outside the language model ({where}): vLLM drops such weights with only "
            "a warning"
        )
    embeddings = sorted(m for m in modules if m.rsplit(".", 1)[-1] in ("lm_head", "embed_tokens"))
    if embeddings:
        reasons.append(
            f"LoRA on {', '.join(embeddings)}: vLLM serves embedding/lm_head LoRA only for "
            "some architectures"
        )
    if files.trainables is not None:
        reasons.append(f"{files.trainables.name} (extra trained tensors, e.g. the projector)")
    return AdapterCheck(files.path, rank, tuple(reasons))


# Architectures vLLM 0.33 serves without LoRA support (used when vLLM's own registry cannot
# be asked, e.g. planning on a machine without vLLM).
NO_LORA_ARCHITECTURES = frozenset(
    {
        "LlavaOnevisionForConditionalGeneration",
        "Phi3VForCausalLM",
        "AriaForConditionalGeneration",
        "KimiVLForConditionalGeneration",
        "DeepseekVLV2ForCausalLM",
        "Ovis",
        "Ovis2_5",
    }
)


def lora_supported(base_path: Path) -> tuple[bool, str]:
    """(whether vLLM serves LoRA adapters on this base's architecture, the architecture)."""
    config_path = Path(base_path) / "config.json"
    try:
        architectures = json.loads(config_path.read_text(encoding="utf-8")).get("architectures")
        arch = str((architectures or ["?"])[0])
    except (OSError, ValueError, AttributeError):
        return True, "?"  # a plan has read this config already; nothing to add here
    try:
        from vllm.model_executor.models import ModelRegistry

        info = ModelRegistry._try_inspect_model_cls(arch)  # vLLM's own answer
        if info is not None:
            return bool(info.supports_lora), arch
    except Exception:  # no vLLM here, or its registry API moved: the static list decides
        pass
    return arch not in NO_LORA_ARCHITECTURES, arch


def _layout_of(base_path: Path, trust_remote_code: bool) -> BaseLayout | None:
    """The base's module layout (a plan has checked every checkpoint against it already);
    None where there is no model folder to read (plans built by hand in tests)."""
    if not (Path(base_path) / "config.json").is_file():
        return None
    return base_layout(base_path, trust_remote_code=trust_remote_code)


def unservable_steps(
    models: Mapping[int, ModelSpec], *, trust_remote_code: bool = False
) -> dict[int, str]:
    """step → why vLLM cannot serve it (LoRA steps only; an empty dict when it can)."""
    refused: dict[int, str] = {}
    checks: dict[str, AdapterCheck] = {}
    bases: dict[str, tuple[bool, str]] = {}
    for step, model in sorted(models.items()):
        if model.kind != "lora":
            continue
        base = str(model.base_path)
        if base not in bases:
            bases[base] = lora_supported(model.base_path)
        supported, arch = bases[base]
        if not supported:
            refused[step] = f"vLLM has no LoRA support for {arch}"
            continue
        if model.content_hash not in checks:
            layout = _layout_of(model.base_path, trust_remote_code)
            checks[model.content_hash] = inspect_adapter(model.path, layout)
        check = checks[model.content_hash]
        if not check.supported:
            refused[step] = f"adapter {model.path}: " + "; ".join(check.reasons)
    return refused


def max_lora_rank(ranks: Sequence[int]) -> int:
    """The smallest rank vLLM accepts that covers every adapter."""
    need = max(ranks, default=1)
    for allowed in ALLOWED_LORA_RANKS:
        if allowed >= need:
            return allowed
    raise BenchmarkError(f"LoRA rank {need} exceeds vLLM's maximum {ALLOWED_LORA_RANKS[-1]}")


@dataclass(frozen=True)
class LoraSpec:
    """Arguments of one ``vllm.lora.request.LoRARequest``."""

    name: str
    int_id: int
    path: str


def lora_specs(models: Sequence[ModelSpec]) -> dict[str, LoraSpec]:
    """content hash → a unique (name, id, path); the same adapter gets the same request."""
    specs: dict[str, LoraSpec] = {}
    used: set[int] = set()
    for model in sorted(models, key=lambda m: m.step):
        if model.kind != "lora" or model.content_hash in specs:
            continue
        candidate = int(model.content_hash[:8], 16) % (2**31 - 2) + 1
        while candidate in used:  # distinct adapters never share an id
            candidate = candidate % (2**31 - 2) + 1
        used.add(candidate)
        specs[model.content_hash] = LoraSpec(
            name=f"adapter-{model.content_hash}", int_id=candidate, path=str(model.path)
        )
    return specs


@dataclass
class RunPlan:
    """How the jobs are split between one vLLM engine per base, subprocesses, and hf."""

    engine_jobs: dict[str, list[GenerationJob]]  # base path → base + supported LoRA jobs
    full_jobs: list[GenerationJob]
    hf_jobs: list[GenerationJob]
    loras: dict[str, LoraSpec]
    max_lora_rank: int | None
    messages: list[str]


def plan_run(jobs: Sequence[GenerationJob], *, trust_remote_code: bool = False) -> RunPlan:
    """Split jobs between one engine per base, full-checkpoint subprocesses and hf.

    Jobs go to hf only when the plan says so (``job.backend == "hf"``, chosen before the
    run by :func:`benchmark.generation.assign_backends`); an adapter vLLM cannot serve on
    a job meant for vLLM is an error here, before any engine starts.
    """
    engine_jobs: dict[str, list[GenerationJob]] = {}
    full_jobs: list[GenerationJob] = []
    hf_jobs: list[GenerationJob] = []
    checks: dict[str, AdapterCheck] = {}
    for job in jobs:
        model = job.model
        if job.backend == "hf":
            hf_jobs.append(job)
            continue
        if model.kind == "full":
            full_jobs.append(job)
            continue
        if model.kind == "lora":
            check = checks.get(model.content_hash)
            if check is None:  # judged as the plan judged it: on the base's layout
                layout = _layout_of(model.base_path, trust_remote_code)
                check = checks[model.content_hash] = inspect_adapter(model.path, layout)
            if not check.supported:
                raise BenchmarkError(
                    f"step {model.step}: vLLM cannot serve adapter {model.path}: "
                    + "; ".join(check.reasons)
                    + " (run the entry with --backend hf, or --allow-mixed-backends)"
                )
        engine_jobs.setdefault(str(model.base_path), []).append(job)
    served = [j.model for group in engine_jobs.values() for j in group if j.model.kind == "lora"]
    ranks = [checks[m.content_hash].rank for m in served]
    messages = sorted(
        {f"step {j.model.step} goes to the hf backend (--allow-mixed-backends)" for j in hf_jobs}
    )
    return RunPlan(
        engine_jobs=engine_jobs,
        full_jobs=full_jobs,
        hf_jobs=hf_jobs,
        loras=lora_specs(served),
        max_lora_rank=max_lora_rank(ranks) if ranks else None,
        messages=messages,
    )
