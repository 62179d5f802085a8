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
(:mod:`.vllm_plan`) runs, and is tested, anywhere.
"""

from __future__ import annotations

import json
import multiprocessing
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmark.errors import BenchmarkError
from benchmark.generation.base import (
    Backend,
    GenerationJob,
    PromptItem,
    Sink,
    conversation,
)
from benchmark.generation.vllm_plan import LoraSpec, plan_run

CHUNK = 4096  # requests per generate call: each finished chunk reaches the cache


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
    channel: Any,
) -> None:  # pragma: no cover - runs in a subprocess with a GPU
    """One engine in a fresh process: its predictions go back through ``channel`` (a pipe's
    write end); any failure is reported as ("error", text) before it exits non-zero."""
    try:
        batch_invariant_mode(options)
        from transformers import AutoProcessor

        processor = AutoProcessor.from_pretrained(
            model_path, trust_remote_code=bool(options.get("trust_remote_code", False))
        )
        llm = _engine(model_path, lora_rank=lora_rank, n_loras=len(loras), options=options)

        def sink(job: GenerationJob, items: Sequence[PromptItem], texts: Sequence[str]) -> None:
            channel.send(("batch", jobs.index(job), [i.key for i in items], list(texts)))

        _generate(llm, processor, jobs, loras, sink)
        channel.send(("done",))
    except BaseException as exc:  # reported to the parent, which raises one clear error
        channel.send(("error", f"{type(exc).__name__}: {' '.join(str(exc).split())[:2000]}"))
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
    process: Any, channel: Any, jobs: Sequence[GenerationJob], sink: Sink, label: str
) -> None:
    """Pass a worker's predictions to ``sink`` until it says it is done.

    Never waits on a dead worker: ``channel`` is the read end of a pipe whose only write end
    is the worker's, so a worker that dies (out of memory, killed — even halfway through a
    message —, a bad path, an unsupported model) before saying "done" ends the pipe, and
    that is one error naming the checkpoint; what it finished is already in the cache.
    """
    by_key = {item.key: item for job in jobs for item in job.items}
    while True:
        if not channel.poll(POLL_SECONDS):
            continue
        try:
            message = channel.recv()
        except (EOFError, OSError):
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
    """Run ``target(*args, channel)`` in a fresh (spawned) process and :func:`collect` from it.

    Every engine gets its own process, so its GPU memory is freed when it exits whatever
    vLLM's teardown does (in-process teardown frees it only in vLLM's default multiprocess
    mode), before the next engine or the hf backend starts. Not a daemon: vLLM starts its
    own engine-core (and tensor-parallel) processes from it, which daemons may not.
    """
    context = multiprocessing.get_context("spawn")
    reader, writer = context.Pipe(duplex=False)
    process = context.Process(target=target, args=(*args, writer))
    process.start()
    writer.close()  # the worker holds the only write end: its death ends the pipe
    try:
        collect(process, reader, jobs, sink, label)
    finally:
        reader.close()
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
        run_plan = plan_run(
            jobs, trust_remote_code=bool(self.options.get("trust_remote_code", False))
        )
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
                # remote code only ever from the (pinned) base, never from a checkpoint
                (model_path, full_jobs, {}, None, {**options, "trust_remote_code": False}),
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
