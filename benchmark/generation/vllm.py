"""The vLLM backend (GPU; ``pip install mllmcl-bench[vllm]``).

- A LoRA sequence runs on **one engine**: every step's adapter is a ``LoRARequest`` with a
  unique name and integer id derived from its content hash, ``max_lora_rank`` is the
  smallest allowed value ≥ every adapter's rank, and every (step, item) request of the
  grid goes into ``generate`` calls together so the GPU stays full.
- Adapters vLLM would refuse or silently mishandle (weights on the vision tower or the
  projector, ``modules_to_save``, DoRA, LoRA bias, PiSSA/OLoRA/LoftQ init) are found before
  the run: the run stops, unless mixing backends was allowed (then those steps go to hf,
  recorded per step).
- Every engine (one per base for a LoRA sequence, one per full checkpoint) runs in a fresh
  spawned process, watched by the parent: a worker that dies is one error naming the
  checkpoint, never a hang, and its GPU memory is freed before the next engine starts.
- Prompts are the same as the hf backend's: the model's chat template over the same
  conversation, rendered by the HF processor, with images passed as PIL images.

``vllm`` is imported only inside the functions that start an engine; the planning
functions run (and are tested) anywhere.
"""

from __future__ import annotations

import json
import multiprocessing
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmark.errors import BenchmarkError
from benchmark.generation.adapters import (
    BaseLayout,
    adapter_files,
    base_layout,
    split_adapter_key,
    tensor_shapes,
)
from benchmark.generation.base import (
    Backend,
    GenerationJob,
    ModelSpec,
    PromptItem,
    Sink,
    conversation,
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
CHUNK = 4096  # requests per generate call: each finished chunk reaches the cache


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


def unservable_steps(models: Mapping[int, ModelSpec]) -> dict[int, str]:
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
            # (a plan has checked every checkpoint against its base already)
            has_base = (Path(model.base_path) / "config.json").is_file()
            layout = base_layout(model.base_path) if has_base else None
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


def plan_run(jobs: Sequence[GenerationJob]) -> RunPlan:
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
            if check is None:
                check = checks[model.content_hash] = inspect_adapter(model.path)
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


def render_prompts(processor: Any, items: Sequence[PromptItem]) -> list[dict[str, Any]]:
    """vLLM inputs: the chat-templated text (as the hf backend renders it) and PIL images."""
    from PIL import Image

    inputs = []
    for item in items:
        text = processor.apply_chat_template(
            conversation(item.question, len(item.images)),
            add_generation_prompt=True,
            tokenize=False,
        )
        entry: dict[str, Any] = {"prompt": text}
        if item.images:
            images = []
            for path in item.images:
                with Image.open(path) as image:
                    images.append(image.convert("RGB"))
            entry["multi_modal_data"] = {"image": images if len(images) > 1 else images[0]}
        inputs.append(entry)
    return inputs


def engine_kwargs(
    model_path: str, *, lora_rank: int | None, n_loras: int, options: dict[str, Any]
) -> dict[str, Any]:
    """The arguments of ``vllm.LLM`` for one engine (validated against vLLM's own config
    code by ``make test-vllm``)."""
    kwargs: dict[str, Any] = {
        "model": model_path,
        "dtype": options.get("dtype", "bfloat16"),  # "auto" would turn float32 into float16
        "seed": 0,
        "gpu_memory_utilization": options.get("gpu_memory_utilization", 0.9),
        "tensor_parallel_size": options.get("tensor_parallel_size", 1),
        # as many images as the run's items carry (an item with more fails its request)
        "limit_mm_per_prompt": {"image": options.get("max_images", 1), "video": 0},
        "trust_remote_code": bool(options.get("trust_remote_code", False)),
        # -1: fit the context to the GPU's memory; a long-context base (Qwen2.5-VL-7B's 128k)
        # would otherwise ask for more KV cache than a mid-size GPU has
        "max_model_len": options.get("max_model_len") or -1,
        # a checkpoint's generation_config.json sets no defaults (greedy, as on hf)
        "generation_config": "vllm",
    }
    if lora_rank is not None:
        kwargs.update(
            enable_lora=True,
            max_lora_rank=lora_rank,
            max_loras=min(max(n_loras, 1), options.get("max_loras", 4)),
            max_cpu_loras=max(n_loras, 1),
        )
    return kwargs


def stop_token_ids(model_path: str) -> list[int]:
    """The checkpoint's end-of-sequence ids, which the hf backend stops at too (vLLM stops
    at the tokenizer's EOS only, unless told)."""
    path = Path(model_path) / "generation_config.json"
    try:
        eos = json.loads(path.read_text(encoding="utf-8")).get("eos_token_id")
    except (OSError, ValueError, AttributeError):
        return []
    ids = eos if isinstance(eos, list) else [eos]
    return [int(i) for i in ids if isinstance(i, int)]


def _engine(
    model_path: str, *, lora_rank: int | None, n_loras: int, options: dict[str, Any]
) -> Any:  # pragma: no cover - GPU only
    from vllm import LLM

    return LLM(**engine_kwargs(model_path, lora_rank=lora_rank, n_loras=n_loras, options=options))


def _generate(
    llm: Any, processor: Any, jobs: Sequence[GenerationJob], loras: dict[str, LoraSpec], sink: Sink
) -> None:
    """All (step, item) requests in large mixed chunks; one sink call per job slice."""
    from vllm import SamplingParams
    from vllm.lora.request import LoRARequest

    requests = {h: LoRARequest(s.name, s.int_id, s.path) for h, s in loras.items()}
    stops: dict[str, list[int]] = {}
    flat = [(job, item) for job in jobs for item in job.items]
    for start in range(0, len(flat), CHUNK):
        chunk = flat[start : start + CHUNK]
        params = [
            SamplingParams(
                temperature=0.0,
                max_tokens=job.max_new_tokens,
                repetition_penalty=1.0,
                stop_token_ids=stops.setdefault(
                    str(job.model.processor_path), stop_token_ids(str(job.model.processor_path))
                ),
                skip_special_tokens=True,
            )
            for job, _ in chunk
        ]
        lora = [
            requests.get(job.model.content_hash) if job.model.kind == "lora" else None
            for job, _ in chunk
        ]
        outputs = llm.generate(
            render_prompts(processor, [item for _, item in chunk]),
            params,
            lora_request=lora,
            use_tqdm=False,
        )
        by_job: dict[int, tuple[GenerationJob, list[PromptItem], list[str]]] = {}
        for (job, item), output in zip(chunk, outputs, strict=True):
            entry = by_job.setdefault(id(job), (job, [], []))
            entry[1].append(item)
            entry[2].append(output.outputs[0].text.strip())
        for job, items, texts in by_job.values():
            sink(job, items, texts)


def _engine_worker(
    model_path: str,
    jobs: list[GenerationJob],
    loras: dict[str, LoraSpec],
    lora_rank: int | None,
    options: dict[str, Any],
    queue: Any,
) -> None:  # pragma: no cover - runs in a subprocess with a GPU
    """One engine in a fresh process: its predictions go back through ``queue``; any failure
    is reported as ("error", text) before the process exits non-zero."""
    try:
        batch_invariant_mode(options)
        from transformers import AutoProcessor

        processor = AutoProcessor.from_pretrained(
            model_path, trust_remote_code=bool(options.get("trust_remote_code", False))
        )
        llm = _engine(model_path, lora_rank=lora_rank, n_loras=len(loras), options=options)

        def sink(job: GenerationJob, items: Sequence[PromptItem], texts: Sequence[str]) -> None:
            queue.put(("batch", jobs.index(job), [i.key for i in items], list(texts)))

        _generate(llm, processor, jobs, loras, sink)
        queue.put(("done",))
    except BaseException as exc:  # reported to the parent, which raises one clear error
        queue.put(("error", f"{type(exc).__name__}: {' '.join(str(exc).split())[:2000]}"))
        raise SystemExit(1) from None


def batch_invariant_mode(options: dict[str, Any]) -> bool:  # pragma: no cover - GPU only
    """Turn on vLLM's batch-invariant kernels (before vLLM is imported) where they run.

    Greedy output otherwise depends on what else is in the batch, so a resumed run (fewer
    items left) could answer differently from a fresh one. They need compute capability
    ≥ 8.0; elsewhere predictions may depend on batch composition (README says so).
    """
    import os

    import torch

    if not options.get("batch_invariant", True) or not torch.cuda.is_available():
        return False
    if torch.cuda.get_device_capability()[0] < 8:
        return False
    os.environ.setdefault("VLLM_BATCH_INVARIANT", "1")
    return os.environ["VLLM_BATCH_INVARIANT"] == "1"


POLL_SECONDS = 1.0


def collect(
    process: Any, queue: Any, jobs: Sequence[GenerationJob], sink: Sink, label: str
) -> None:
    """Pass a worker's predictions to ``sink`` until it says it is done.

    Never waits on a dead worker: the queue is polled, and a worker that exits (out of
    memory, killed, a bad path, an unsupported model) before saying "done" is one error
    naming the checkpoint; what it finished is already in the cache.
    """
    import queue as queue_module

    by_key = {item.key: item for job in jobs for item in job.items}
    while True:
        try:
            message = queue.get(timeout=POLL_SECONDS)
        except queue_module.Empty:
            if process.is_alive():
                continue
            try:  # anything it flushed just before it died
                message = queue.get(timeout=POLL_SECONDS)
            except queue_module.Empty:
                process.join()
                raise BenchmarkError(
                    f"vLLM worker for {label} exited with code {process.exitcode} before "
                    "finishing (out of memory? killed? its own output is above); what it "
                    "generated is cached: run again to resume, or use --backend hf"
                ) from None
        kind = message[0]
        if kind == "done":
            break
        if kind == "error":
            process.join()
            raise BenchmarkError(f"vLLM worker for {label} failed: {message[1]}")
        _, index, keys, texts = message
        sink(jobs[index], [by_key[k] for k in keys], texts)
    process.join()


def run_in_subprocess(
    target: Any, args: tuple[Any, ...], jobs: Sequence[GenerationJob], sink: Sink, label: str
) -> None:
    """Run ``target(*args, queue)`` in a fresh (spawned) process and :func:`collect` from it.

    Every engine gets its own process, so its GPU memory is freed when it exits whatever
    vLLM's teardown does (in-process teardown frees it only in vLLM's default multiprocess
    mode), before the next engine or the hf backend starts.
    """
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue), daemon=True)
    process.start()
    try:
        collect(process, queue, jobs, sink, label)
    finally:
        if process.is_alive():
            process.terminate()
            process.join(10)


class VLLMBackend(Backend):
    name = "vllm"

    def __init__(self, *, device: str = "auto", batch_size: int = 8, **options: Any) -> None:
        self.options = options
        self.batch_size = batch_size  # vLLM schedules its own batches; kept for hf fallback
        self.device = device
        try:
            import vllm  # noqa: F401
        except ImportError:
            raise BenchmarkError(
                "the vllm backend needs vLLM on a GPU machine: pip install 'mllmcl-bench[vllm]'"
            ) from None

    def library_versions(self) -> dict[str, str]:
        import peft
        import torch
        import transformers
        import vllm

        return {
            "vllm": vllm.__version__,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "peft": peft.__version__,  # the hf fallback's adapters
        }

    def run(self, jobs: Sequence[GenerationJob], sink: Sink) -> None:
        run_plan = plan_run(jobs)
        for message in run_plan.messages:
            print(f"vllm: {message}", file=sys.stderr)
        options = {**self.options, "max_images": max_images(jobs)}
        for base_path, engine_jobs in run_plan.engine_jobs.items():
            run_in_subprocess(
                _engine_worker,
                (base_path, engine_jobs, run_plan.loras, run_plan.max_lora_rank, options),
                engine_jobs,
                sink,
                base_path,
            )
        for model_path, full_jobs in _group_full(run_plan.full_jobs).items():
            run_in_subprocess(
                _engine_worker,
                (model_path, full_jobs, {}, None, options),
                full_jobs,
                sink,
                model_path,
            )
        if run_plan.hf_jobs:
            from benchmark.generation.hf import HFBackend

            fallback = HFBackend(
                device=self.device,
                batch_size=self.batch_size,
                trust_remote_code=bool(self.options.get("trust_remote_code", False)),
            )
            try:
                fallback.run(run_plan.hf_jobs, sink)
            finally:
                fallback.close()


def max_images(jobs: Sequence[GenerationJob]) -> int:
    """The most images any prompt of the run carries (vLLM's ``limit_mm_per_prompt``)."""
    return max((len(item.images) for job in jobs for item in job.items), default=0)


def _group_full(jobs: Sequence[GenerationJob]) -> dict[str, list[GenerationJob]]:
    groups: dict[str, list[GenerationJob]] = {}
    for job in jobs:
        groups.setdefault(str(job.model.path), []).append(job)
    return groups
