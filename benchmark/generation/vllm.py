"""The vLLM backend (GPU; ``pip install mllmcl-bench[vllm]``).

- A LoRA sequence runs on **one engine**: every step's adapter is a ``LoRARequest`` with a
  unique name and integer id derived from its content hash, ``max_lora_rank`` is the
  smallest allowed value ≥ every adapter's rank, and every (step, item) request of the
  grid goes into ``generate`` calls together so the GPU stays full.
- Adapters vLLM would refuse or silently mishandle (weights on the vision tower or the
  projector, ``modules_to_save``, DoRA, LoRA bias, PiSSA/OLoRA/LoftQ init) are found before
  the run: the run stops, unless mixing backends was allowed (then those steps go to hf,
  recorded per step).
- A full checkpoint gets its own engine in a fresh subprocess, freed before the next.
- Prompts are the same as the hf backend's: the model's chat template over the same
  conversation, rendered by the HF processor, with images passed as PIL images.

``vllm`` is imported only inside the functions that start an engine; the planning
functions run (and are tested) anywhere.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmark.errors import BenchmarkError
from benchmark.generation.adapters import adapter_files, tensor_shapes
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
REFUSED_INITS = ("pissa", "olora", "loftq", "corda", "eva")
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


def inspect_adapter(adapter_dir: Path) -> AdapterCheck:
    """Read adapter_config.json (and tensor names) and list what vLLM cannot serve."""
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
    init = str(config.get("init_lora_weights", "")).lower()
    if any(init.startswith(name) for name in REFUSED_INITS):
        reasons.append(f"init_lora_weights {config.get('init_lora_weights')!r}")
    target = config.get("target_modules") or []
    targets = [target] if isinstance(target, str) else list(target)
    names = list(tensor_shapes(files.weights)) + targets
    touched = sorted(
        {frag.rstrip(".") for frag in NON_LANGUAGE_MODULES for name in names if frag in name}
    )
    if touched:
        reasons.append(f"weights on {', '.join(touched)} (vLLM drops them with only a warning)")
    if files.trainables is not None:
        reasons.append(f"{files.trainables.name} (extra trained tensors, e.g. the projector)")
    return AdapterCheck(files.path, rank, tuple(reasons))


def unservable_steps(models: Mapping[int, ModelSpec]) -> dict[int, str]:
    """step → why vLLM cannot serve it (LoRA steps only; an empty dict when it can)."""
    refused: dict[int, str] = {}
    checks: dict[str, AdapterCheck] = {}
    for step, model in sorted(models.items()):
        if model.kind != "lora":
            continue
        if model.content_hash not in checks:
            checks[model.content_hash] = inspect_adapter(model.path)
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


def _engine(
    model_path: str, *, lora_rank: int | None, n_loras: int, options: dict[str, Any]
) -> Any:
    from vllm import LLM

    kwargs: dict[str, Any] = {
        "model": model_path,
        "dtype": options.get("dtype", "bfloat16"),  # "auto" would turn float32 into float16
        "seed": 0,
        "gpu_memory_utilization": options.get("gpu_memory_utilization", 0.9),
        "tensor_parallel_size": options.get("tensor_parallel_size", 1),
        "limit_mm_per_prompt": {"image": options.get("max_images", 1), "video": 0},
        "trust_remote_code": bool(options.get("trust_remote_code", False)),
    }
    if options.get("max_model_len"):
        kwargs["max_model_len"] = options["max_model_len"]
    if lora_rank is not None:
        kwargs.update(
            enable_lora=True,
            max_lora_rank=lora_rank,
            max_loras=min(max(n_loras, 1), options.get("max_loras", 4)),
            max_cpu_loras=max(n_loras, 1),
        )
    return LLM(**kwargs)


def _generate(
    llm: Any, processor: Any, jobs: Sequence[GenerationJob], loras: dict[str, LoraSpec], sink: Sink
) -> None:
    """All (step, item) requests in large mixed chunks; one sink call per job slice."""
    from vllm import SamplingParams
    from vllm.lora.request import LoRARequest

    requests = {h: LoRARequest(s.name, s.int_id, s.path) for h, s in loras.items()}
    flat = [(job, item) for job in jobs for item in job.items]
    for start in range(0, len(flat), CHUNK):
        chunk = flat[start : start + CHUNK]
        params = [
            SamplingParams(temperature=0.0, max_tokens=job.max_new_tokens, repetition_penalty=1.0)
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


def _full_worker(
    model_path: str, jobs: list[GenerationJob], options: dict[str, Any], queue: Any
) -> None:  # pragma: no cover - runs in a subprocess with a GPU
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(
        model_path, trust_remote_code=bool(options.get("trust_remote_code", False))
    )
    llm = _engine(model_path, lora_rank=None, n_loras=0, options=options)

    def sink(job: GenerationJob, items: Sequence[PromptItem], texts: Sequence[str]) -> None:
        queue.put((jobs.index(job), [i.key for i in items], list(texts)))

    _generate(llm, processor, jobs, {}, sink)
    queue.put(None)


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
        import torch
        import transformers
        import vllm

        return {
            "vllm": vllm.__version__,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
        }

    def run(self, jobs: Sequence[GenerationJob], sink: Sink) -> None:
        from transformers import AutoProcessor

        run_plan = plan_run(jobs)
        for message in run_plan.messages:
            print(f"vllm: {message}", file=sys.stderr)
        for base_path, engine_jobs in run_plan.engine_jobs.items():
            processor = AutoProcessor.from_pretrained(
                base_path, trust_remote_code=bool(self.options.get("trust_remote_code", False))
            )
            llm = _engine(
                base_path,
                lora_rank=run_plan.max_lora_rank,
                n_loras=len(run_plan.loras),
                options=self.options,
            )
            try:
                _generate(llm, processor, engine_jobs, run_plan.loras, sink)
            finally:
                _shutdown(llm)
        for model_path, full_jobs in _group_full(run_plan.full_jobs).items():
            self._run_full_in_subprocess(model_path, full_jobs, sink)
        if run_plan.hf_jobs:
            from benchmark.generation.hf import HFBackend

            fallback = HFBackend(device=self.device, batch_size=self.batch_size)
            try:
                fallback.run(run_plan.hf_jobs, sink)
            finally:
                fallback.close()

    def _run_full_in_subprocess(
        self, model_path: str, jobs: list[GenerationJob], sink: Sink
    ) -> None:  # pragma: no cover - GPU only
        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        process = context.Process(target=_full_worker, args=(model_path, jobs, self.options, queue))
        process.start()
        by_key = {item.key: item for job in jobs for item in job.items}
        while True:
            message = queue.get()
            if message is None:
                break
            index, keys, texts = message
            sink(jobs[index], [by_key[k] for k in keys], texts)
        process.join()
        if process.exitcode != 0:
            raise BenchmarkError(f"vLLM worker for {model_path} exited with {process.exitcode}")


def _group_full(jobs: Sequence[GenerationJob]) -> dict[str, list[GenerationJob]]:
    groups: dict[str, list[GenerationJob]] = {}
    for job in jobs:
        groups.setdefault(str(job.model.path), []).append(job)
    return groups


def _shutdown(llm: Any) -> None:  # pragma: no cover - GPU only
    import gc

    with contextlib.suppress(AttributeError):
        llm.llm_engine.engine_core.shutdown()
    del llm
    gc.collect()
    try:
        from vllm.distributed import cleanup_dist_env_and_memory

        cleanup_dist_env_and_memory()
    except ImportError:
        pass
