"""The reference backend: transformers (+ peft for adapters), CPU or GPU.

Batched greedy generation with left padding. The base model is loaded once; LoRA steps
attach their adapter to it (``load_adapter`` / ``set_adapter``), the base step runs with
adapters disabled, and each adapter is deleted after its cells. Full checkpoints are loaded
one at a time and freed before the next.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmark.errors import BenchmarkError
from benchmark.generation import Backend
from benchmark.generation.adapters import (
    AdapterError,
    AdapterReport,
    adapter_files,
    check_adapter,
    read_tensors,
)
from benchmark.generation.base import GenerationJob, ModelSpec, PromptItem, Sink, conversation


def _images(paths: Sequence[Path]) -> list[Any]:
    from PIL import Image

    out = []
    for path in paths:
        with Image.open(path) as image:
            out.append(image.convert("RGB"))
    return out


# Generation settings a checkpoint's generation_config.json may carry and that the harness
# overrides (greedy decoding whatever the file says); only its token ids are kept.
KEPT_GENERATION_FIELDS = ("eos_token_id", "bos_token_id", "pad_token_id")
GREEDY = {"do_sample": False, "num_beams": 1, "repetition_penalty": 1.0}


def greedy_generation_config(model: Any, path: Path) -> Any:
    """A fresh greedy GenerationConfig keeping only the checkpoint's special token ids.

    transformers fills every unset generate() argument from ``model.generation_config``
    (sampling temperature, ``no_repeat_ngram_size``, ``suppress_tokens`` …): users of the
    peers edit those files by hand, so a checkpoint's file must not change our decoding.
    """
    from transformers import GenerationConfig

    saved = getattr(model, "generation_config", None)
    kept = {name: getattr(saved, name, None) for name in KEPT_GENERATION_FIELDS}
    ignored = sorted(
        key
        for key, value in (saved.to_diff_dict() if saved is not None else {}).items()
        if key not in KEPT_GENERATION_FIELDS
        and not key.startswith("_")
        and key not in ("transformers_version", "max_length", "max_new_tokens")
        and value is not None
        and GREEDY.get(key, object()) != value
    )
    if ignored:
        print(
            f"hf: {path}: generation_config.json sets {', '.join(ignored)}; ignored "
            "(greedy decoding, repetition_penalty 1.0)",
            file=sys.stderr,
        )
    return GenerationConfig(**GREEDY, **kept)


def pil_image_processor(processor: Any, path: Path, **options: Any) -> None:
    """Use the image processor's PIL implementation, whatever is installed.

    transformers picks its torchvision implementation when torchvision is importable and PIL
    otherwise; the two resize differently (pixels differ by up to ~0.1 after normalisation on
    small non-square images), so predictions would depend on the machine. PIL is the
    reference (the original LLaVA code preprocesses with it: the converted fixture's pixels
    are bit-identical only with PIL). Video processors exist only for torchvision and stay.
    """
    if getattr(processor, "image_processor", None) is None:
        return
    from transformers import AutoImageProcessor

    try:
        processor.image_processor = AutoImageProcessor.from_pretrained(
            path, backend="pil", **options
        )
    except (ImportError, ValueError, OSError) as exc:
        print(f"hf: {path}: no PIL image processor ({exc}); using the default", file=sys.stderr)


def attach_adapter(model: Any, path: Path, name: str, report: AdapterReport) -> None:
    """Load a LoRA adapter under ``name`` and confirm every tensor of it was loaded."""
    from peft import PeftConfig

    files = adapter_files(path)
    tensors = read_tensors(files.weights)  # .bin too: transformers looks for safetensors only
    info = model.load_adapter(
        adapter_name=name,
        peft_config=PeftConfig.from_pretrained(str(path)),
        adapter_state_dict=tensors,
    )
    problems = []
    for label, keys in (
        ("not loaded", getattr(info, "unexpected_keys", ())),
        (
            "left at their initial value",
            [k for k in getattr(info, "missing_keys", ()) if name in k],
        ),
        ("of the wrong shape", getattr(info, "mismatched_keys", ())),
    ):
        keys = sorted(str(k) for k in keys)
        if keys:
            problems.append(f"{len(keys)} tensors {label} (first: {', '.join(keys[:3])})")
    wrapped = {
        module_name
        for module_name, module in model.named_modules()
        if name in (getattr(module, "lora_A", None) or {})
    }
    expected = set(report.lora_modules.values())
    if len(wrapped) != len(expected):
        problems.append(
            f"{len(wrapped)} modules wrapped for {len(expected)} adapted modules in the file"
        )
    if problems:
        model.delete_adapter(name)
        raise AdapterError(f"adapter {path}: " + "; ".join(problems))


def _snapshot(model: Any, targets: Iterable[str], originals: dict[str, Any]) -> None:
    """Keep a copy of each base parameter in ``targets`` (once) for :func:`_restore`."""
    for target in targets:
        if target not in originals:
            originals[target] = model.get_parameter(target).detach().clone()


def _apply_trainables(
    model: Any, path: Path, report: AdapterReport, originals: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Copy the adapter's non-LoRA tensors (e.g. its projector) into the base, keeping the
    originals in ``originals`` (returned) for :func:`_restore` — each before it changes."""
    originals = {} if originals is None else originals
    files = adapter_files(path)
    if files.trainables is None or not report.trainables:
        return originals
    import torch

    values = read_tensors(files.trainables)
    with torch.no_grad():
        for key, target in report.trainables.items():
            _snapshot(model, [target], originals)
            param = model.get_parameter(target)
            param.copy_(values[key].to(device=param.device, dtype=param.dtype))
    return originals


def _drop_empty_wrappers(model: Any) -> None:
    """Put back the original module of each ``modules_to_save`` wrapper left with no adapter.

    peft keeps the wrapper after ``delete_adapter``; the next ``set_adapter`` of an adapter
    without that module then fails ("Adapter … not found").
    """
    from peft.utils.other import AuxiliaryTrainingWrapper

    for module_name, module in list(model.named_modules()):
        if isinstance(module, AuxiliaryTrainingWrapper) and not module._get_available_adapters():
            parent, _, child = module_name.rpartition(".")
            setattr(model.get_submodule(parent) if parent else model, child, module.original_module)


def _restore(model: Any, originals: dict[str, Any]) -> None:
    import torch

    with torch.no_grad():
        for target, value in originals.items():
            model.get_parameter(target).copy_(value)


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BenchmarkError(f"--device {device}: no CUDA device is available here")
    return device


class HFBackend(Backend):
    name = "hf"

    def __init__(
        self,
        *,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 8,
        trust_remote_code: bool = False,
    ) -> None:
        if batch_size < 1:
            raise BenchmarkError("--batch-size must be at least 1")
        self.device = resolve_device(device)
        self.dtype_name = dtype
        self.batch_size = batch_size
        self.trust_remote_code = trust_remote_code  # opt-in: runs the checkpoint's own code
        self._base: tuple[Path, Any, Any] | None = None  # (path, model, processor)

    # -- libraries and models ------------------------------------------------------------

    def library_versions(self) -> dict[str, str]:
        import peft
        import torch
        import transformers

        return {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "peft": peft.__version__,
        }

    def _dtype(self) -> Any:
        import torch

        if self.dtype_name == "auto":
            return torch.bfloat16 if self.device.startswith("cuda") else torch.float32
        try:
            return getattr(torch, self.dtype_name)
        except AttributeError:
            raise BenchmarkError(f"unknown dtype {self.dtype_name!r}") from None

    def _load(self, path: Path, *, is_base: bool) -> tuple[Any, Any]:
        from transformers import AutoModelForImageTextToText, AutoProcessor

        # remote code only from the base (pinned to a hub commit), never from a checkpoint
        remote = {"trust_remote_code": True} if self.trust_remote_code and is_base else {}
        try:
            processor = AutoProcessor.from_pretrained(path, **remote)
            model, info = AutoModelForImageTextToText.from_pretrained(
                path, dtype=self._dtype(), output_loading_info=True, **remote
            )
        except OSError as exc:
            raise BenchmarkError(f"cannot load a model from {path}: {exc}") from None
        problems = [
            f"{len(keys)} {label} (first: {', '.join(sorted(map(str, keys))[:3])})"
            for label, keys in (
                ("weights missing from the checkpoint", info.get("missing_keys") or ()),
                ("weights of the wrong shape", info.get("mismatched_keys") or ()),
            )
            if keys
        ]
        if problems:  # transformers would fill them with random values and only log it
            raise BenchmarkError(f"{path}: not loadable as it is: {'; '.join(problems)}")
        if not hasattr(processor, "tokenizer"):
            raise BenchmarkError(
                f"{path}: AutoProcessor returned a bare {type(processor).__name__}, not a "
                "multimodal processor (is the processor class installed/registered?)"
            )
        processor.tokenizer.padding_side = "left"
        if processor.tokenizer.pad_token is None:  # e.g. Llama-3 tokenizers; batches pad
            processor.tokenizer.pad_token = processor.tokenizer.eos_token
        pil_image_processor(processor, path, **remote)
        model.generation_config = greedy_generation_config(model, path)
        model.to(self.device).eval()
        return model, processor

    def _base_model(self, path: Path) -> tuple[Any, Any]:
        if self._base is None or self._base[0] != path:
            self._drop_base()
            model, processor = self._load(path, is_base=True)
            self._base = (path, model, processor)
        return self._base[1], self._base[2]

    def _drop_base(self) -> None:
        if self._base is not None:
            self._base = None
            self._free()

    def _free(self) -> None:
        import torch

        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    @contextmanager
    def _model_for(self, spec: ModelSpec) -> Iterator[tuple[Any, Any]]:
        if spec.kind == "full":
            self._drop_base()
            model, processor = self._load(spec.path, is_base=False)
            try:
                yield model, processor
            finally:
                del model, processor
                self._free()
            return
        model, processor = self._base_model(spec.base_path)
        if spec.kind == "base":
            if getattr(model, "_hf_peft_config_loaded", False):
                model.disable_adapters()
            yield model, processor
            return
        name = f"step{spec.step}_{spec.content_hash[:12]}"
        report = check_adapter(
            spec.path,
            spec.base_path,
            label=f"step {spec.step}",
            trust_remote_code=self.trust_remote_code,
        )
        originals: dict[str, Any] = {}
        try:
            # non-LoRA tensors copied into the base for this step only: its trainables, and
            # saved parameters peft loads straight into the base (outside modules_to_save)
            _snapshot(model, report.saved_params.values(), originals)
            _apply_trainables(model, spec.path, report, originals)
            attach_adapter(model, spec.path, name, report)
            try:
                model.set_adapter(name)
                model.enable_adapters()
                yield model, processor
            finally:
                model.delete_adapter(name)
                _drop_empty_wrappers(model)
        finally:
            _restore(model, originals)

    # -- generation ------------------------------------------------------------------------

    def render(self, processor: Any, items: Sequence[PromptItem]) -> tuple[list[str], list[Any]]:
        """Chat-templated prompts and decoded images of one batch (CPU work, no model)."""
        prompts = [
            processor.apply_chat_template(
                conversation(item.question, len(item.images)),
                add_generation_prompt=True,
                tokenize=False,
            )
            for item in items
        ]
        return prompts, [image for item in items for image in _images(item.images)]

    def generate_batch(
        self,
        model: Any,
        processor: Any,
        items: Sequence[PromptItem],
        max_new_tokens: int,
        rendered: tuple[list[str], list[Any]] | None = None,
    ) -> list[str]:
        """Greedy generation for one batch; texts with special tokens removed, stripped."""
        import torch

        prompts, images = rendered or self.render(processor, items)
        inputs = processor(
            text=prompts, images=images or None, padding=True, return_tensors="pt"
        ).to(self.device)
        if "pixel_values" in inputs:
            inputs["pixel_values"] = inputs["pixel_values"].to(self._dtype())
        tokenizer = processor.tokenizer
        with torch.inference_mode():
            output = model.generate(
                **inputs,
                do_sample=False,
                num_beams=1,
                max_new_tokens=max_new_tokens,
                repetition_penalty=1.0,
                temperature=None,
                top_p=None,
                top_k=None,
                pad_token_id=tokenizer.pad_token_id,
            )
        new_tokens = output[:, inputs["input_ids"].shape[1] :]
        # no clean-up of spaces before punctuation: vLLM's detokenizer does none either
        texts = tokenizer.batch_decode(
            new_tokens, skip_special_tokens=True, clean_up_tokenization_spaces=False
        )
        return [text.strip() for text in texts]

    def run(self, jobs: Sequence[GenerationJob], sink: Sink) -> None:
        # Base-model and LoRA jobs first, grouped by base, so the base loads once;
        # then full checkpoints one at a time.
        def order(job: GenerationJob) -> tuple[int, str, int]:
            return (int(job.model.kind == "full"), str(job.model.base_path), job.step)

        by_model: dict[tuple[str, str], list[GenerationJob]] = {}
        for job in sorted(jobs, key=order):
            by_model.setdefault((job.model.kind, job.model.content_hash), []).append(job)
        with ThreadPoolExecutor(max_workers=1) as prefetch:
            for group in by_model.values():
                with self._model_for(group[0].model) as (model, processor):
                    batches = [(job, batch) for job in group for batch in self._batches(job.items)]
                    # The next batch's images and prompts are prepared while this one runs.
                    pending = (
                        prefetch.submit(self.render, processor, batches[0][1]) if batches else None
                    )
                    for index, (job, batch) in enumerate(batches):
                        rendered = pending.result()
                        if index + 1 < len(batches):
                            pending = prefetch.submit(self.render, processor, batches[index + 1][1])
                        texts = self.generate_batch(
                            model, processor, batch, job.max_new_tokens, rendered
                        )
                        sink(job, batch, texts)

    def _batches(self, items: Sequence[PromptItem]) -> list[list[PromptItem]]:
        # Longest prompts first keeps padding low; results do not depend on it.
        ordered = sorted(items, key=lambda i: (-len(i.question), i.uid))
        return [ordered[i : i + self.batch_size] for i in range(0, len(ordered), self.batch_size)]

    def close(self) -> None:
        self._drop_base()
