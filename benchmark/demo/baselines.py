"""Reference continual-learning baselines, trained on CPU on a prepared suite.

Three methods, each saving one LoRA adapter per step of the task order:
- ``seq-lora``: one adapter trained on each task in turn (forgets);
- ``seq-lora-replay``: the same, with a small buffer of earlier tasks' items mixed into
  every batch (forgets less);
- ``joint``: one adapter trained on all tasks at once (the upper bound), evaluated at
  every step.

Training is seeded and deterministic on one machine. The loss covers the answer tokens
only (prompt and padding masked), with prompts rendered exactly as the evaluator renders
them (the model's chat template over the same conversation).
"""

from __future__ import annotations

import json
import random
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmark.generation.base import conversation
from benchmark.suites.records import Record

# Every linear layer of the language model and the vision tower, and the projector.
LORA_TARGETS = (
    r".*(language_model.*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)"
    r"|vision_tower.*\.(q_proj|k_proj|v_proj|out_proj|fc1|fc2)"
    r"|multi_modal_projector\.(linear_1|linear_2))"
)


@dataclass(frozen=True)
class TrainConfig:
    steps_per_task: int = 350
    # joint training fits all four tasks with one adapter at once (a trial with 2000 steps in
    # all reached 97.5% on 100 test items per task)
    joint_steps_per_task: int = 500
    batch_size: int = 16
    # 3e-3 learned single tasks but not several at once: joint training stalled at 33%
    # (1e-3: 97.5% on 100 test items per task, the same number of steps)
    learning_rate: float = 1e-3
    lora_rank: int = 8
    lora_alpha: int = 16
    replay_per_task: int = 30  # items kept from each earlier task (replay baseline)
    replay_fraction: float = 0.5  # share of a batch drawn from the buffer once it exists
    seed: int = 0
    # A new AdamW at every step of a sequence, as a new fine-tuning run would start: Adam's
    # moments from a task the model failed to fit otherwise stall the next one.
    fresh_optimizer_per_step: bool = True

    def fingerprint(
        self, method: str, order: Sequence[str], base_hash: str, data: Mapping[str, str]
    ) -> str:
        """What trained checkpoints depend on: ``data`` maps each task to the hash of its
        prepared records (so changed training data retrains, whatever the suite version)."""
        import hashlib

        payload = json.dumps(
            [method, list(order), base_hash, dict(data), asdict(self)], sort_keys=True
        )
        return hashlib.sha256(payload.encode()).hexdigest()


Example = tuple[str, str, tuple[Path, ...]]  # question, answer, image paths


def examples_of(records: Sequence[Record], data_dir: Path) -> list[Example]:
    """Training examples: the question, its first gold answer, and the image paths."""
    return [(r.question, r.answers[0], tuple(data_dir / i for i in r.images)) for r in records]


def _encode(processor: Any, batch: Sequence[Example]) -> dict[str, Any]:
    """Tokenised prompts + answers (left padded) with labels on the answer tokens only."""
    from PIL import Image

    tokenizer = processor.tokenizer
    texts, images, answer_lengths = [], [], []
    for question, answer, paths in batch:
        prompt = processor.apply_chat_template(
            conversation(question, len(paths)), add_generation_prompt=True, tokenize=False
        )
        texts.append(f"{prompt} {answer}{tokenizer.eos_token}")
        answer_ids = tokenizer(f" {answer}", add_special_tokens=False)["input_ids"]
        answer_lengths.append(len(answer_ids) + 1)  # + eos
        for path in paths:
            with Image.open(path) as image:
                images.append(image.convert("RGB"))
    inputs = processor(text=texts, images=images or None, padding=True, return_tensors="pt")
    labels = inputs["input_ids"].clone()
    labels[:] = -100
    for row, length in enumerate(answer_lengths):
        labels[row, -length:] = inputs["input_ids"][row, -length:]
    inputs["labels"] = labels
    return inputs


def _sampler(
    pools: Sequence[Sequence[Example]],
    weights: Sequence[float],
    rng: random.Random,
    batch_size: int,
) -> list[Example]:
    batch = []
    for _ in range(batch_size):
        pool = rng.choices(pools, weights=weights)[0]
        batch.append(pool[rng.randrange(len(pool))])
    return batch


def _peft_model(base_dir: Path, config: TrainConfig) -> tuple[Any, Any]:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForImageTextToText, AutoProcessor

    torch.manual_seed(config.seed)
    from benchmark.generation.hf import pil_image_processor

    processor = AutoProcessor.from_pretrained(base_dir)
    pil_image_processor(processor, base_dir)  # the pixels the hf backend evaluates on
    model = AutoModelForImageTextToText.from_pretrained(base_dir, dtype=torch.float32)
    lora = LoraConfig(
        r=config.lora_rank,
        lora_alpha=config.lora_alpha,
        lora_dropout=0.0,
        target_modules=LORA_TARGETS,
        # A tiny random base cannot express new answer words through attention/MLP LoRA
        # alone; training the output layer too makes it learn (BACKENDS.md). Such an adapter
        # is one vLLM refuses: evaluate these entries with the hf backend.
        modules_to_save=["lm_head"],
    )
    return get_peft_model(model, lora), processor


def train_sequence(
    method: str,
    base_dir: Path,
    tasks: Sequence[tuple[str, list[Example]]],
    out_dir: Path,
    config: TrainConfig,
    *,
    log: Callable[[str], None] = print,
) -> list[Path]:
    """Train ``method`` through the tasks in order; one adapter folder per step.

    The same folder is returned for every step by ``joint`` (one checkpoint, trained once on
    the union of the tasks).
    """
    import torch

    if method not in ("seq-lora", "seq-lora-replay", "joint"):
        raise ValueError(f"unknown baseline {method!r}")
    model, processor = _peft_model(base_dir, config)

    def new_optimizer() -> Any:
        trainable = [p for p in model.parameters() if p.requires_grad]
        return torch.optim.AdamW(trainable, lr=config.learning_rate)

    optimizer = new_optimizer()
    rng = random.Random(f"{method}/{config.seed}")
    model.train()

    def fit(pools: list[list[Example]], weights: list[float], steps: int, label: str) -> None:
        nonlocal optimizer
        if config.fresh_optimizer_per_step:
            optimizer = new_optimizer()
        started = time.perf_counter()
        loss_value = float("nan")
        for _ in range(steps):
            batch = _sampler(pools, weights, rng, config.batch_size)
            loss = model(**_encode(processor, batch)).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            loss_value = float(loss.detach())
        log(
            f"  {method}: {label}: {steps} steps, loss {loss_value:.3f}, "
            f"{time.perf_counter() - started:.1f}s"
        )

    out_dir.mkdir(parents=True, exist_ok=True)
    if method == "joint":
        pools = [examples for _, examples in tasks]
        fit(pools, [1.0] * len(pools), config.joint_steps_per_task * len(tasks), "all tasks")
        folder = out_dir / "joint"
        model.save_pretrained(folder)
        return [folder] * len(tasks)
    saved: list[Path] = []
    buffer: list[Example] = []
    for step, (task, examples) in enumerate(tasks, start=1):
        if method == "seq-lora-replay" and buffer:
            pools, weights = (
                [examples, buffer],
                [1 - config.replay_fraction, config.replay_fraction],
            )
        else:
            pools, weights = [examples], [1.0]
        fit(pools, weights, config.steps_per_task, f"step {step} ({task})")
        folder = out_dir / f"step-{step}"
        if folder.exists():
            shutil.rmtree(folder)
        model.save_pretrained(folder)
        saved.append(folder)
        if method == "seq-lora-replay":
            buffer.extend(rng.sample(examples, min(config.replay_per_task, len(examples))))
    return saved
