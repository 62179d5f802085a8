"""Evaluator speed: the hf backend's overhead over a bare ``model.generate`` loop on the same
batches, and the wall time of a fully cached re-run. Prints its figures.

Run: ``make bench`` or ``.venv/bin/python -m pytest tests/perf/test_evaluate_perf.py -s``.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from tinyworld import prepare_small_suite, write_submission

from benchmark.paths import HOME_ENV, TASKS_ENV

pytestmark = pytest.mark.perf


def test_backend_overhead_and_cached_rerun(tmp_path: Path, monkeypatch) -> None:
    import torch
    from PIL import Image

    from benchmark.demo.tiny_models import build_tiny_llava, load_tiny, make_lora_adapter
    from benchmark.evaluation.run import evaluate_entry
    from benchmark.generation.base import GenerationJob, ModelSpec, PromptItem, conversation
    from benchmark.generation.hf import HFBackend
    from benchmark.paths import suite_data_dir
    from benchmark.suites.prepare import records_path
    from benchmark.suites.records import read_records

    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    monkeypatch.setenv(TASKS_ENV, str(tmp_path / "tasks"))
    prepare_small_suite(
        tmp_path,
        "perfsuite",
        {"a": "colour", "b": "position"},
        test_size=128,
        seed=5,
        max_new_tokens=8,
    )
    base = build_tiny_llava(tmp_path / "base", seed=0)
    records = read_records(records_path("perfsuite", "a"))
    data_dir = suite_data_dir("perfsuite")
    batch_size = 16

    # bare loop: images decoded and prompts rendered beforehand, then processor + generate
    model, processor = load_tiny(base)
    prompts = [
        processor.apply_chat_template(
            conversation(r.question, 1), add_generation_prompt=True, tokenize=False
        )
        for r in records
    ]
    images = [Image.open(data_dir / r.images[0]).convert("RGB") for r in records]
    batches = [
        (prompts[i : i + batch_size], images[i : i + batch_size])
        for i in range(0, len(records), batch_size)
    ]

    def bare() -> float:
        started = time.perf_counter()
        for texts, imgs in batches:
            inputs = processor(text=texts, images=imgs, padding=True, return_tensors="pt")
            with torch.inference_mode():
                out = model.generate(
                    **inputs,
                    do_sample=False,
                    max_new_tokens=8,
                    pad_token_id=processor.tokenizer.pad_token_id,
                )
            processor.tokenizer.batch_decode(
                out[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True
            )
        return time.perf_counter() - started

    backend = HFBackend(device="cpu", batch_size=batch_size)
    spec = ModelSpec(0, "base", base, base, "x" * 64)
    items = [
        PromptItem(r.uid, r.uid, r.question, tuple(data_dir / i for i in r.images)) for r in records
    ]
    backend._base_model(base)  # load once, outside the timing, as bare() had it loaded

    def harness() -> float:
        started = time.perf_counter()
        backend.run([GenerationJob(0, "a", spec, 8, list(items))], lambda job, i, t: None)
        return time.perf_counter() - started

    bare(), harness()  # warm up
    bare_s = min(bare() for _ in range(3))
    harness_s = min(harness() for _ in range(3))
    overhead = 100 * (harness_s - bare_s) / bare_s
    print(
        f"\n{len(records)} items, batch {batch_size}: bare generate loop {bare_s:.3f} s, "
        f"hf backend {harness_s:.3f} s -> overhead {overhead:+.1f}% "
        f"({len(records) / harness_s:.0f} items/s)"
    )

    entry = tmp_path / "entry"
    entry.mkdir()
    shutil.copytree(base, entry / "model")
    for step in (1, 2):
        make_lora_adapter(base, entry / f"step-{step}", seed=step)
    write_submission(entry, "perfsuite", ["a", "b"])
    cache = tmp_path / "cache.sqlite"
    started = time.perf_counter()
    first = evaluate_entry(entry, cache_path=cache, progress=False, batch_size=batch_size)
    cold = time.perf_counter() - started
    started = time.perf_counter()
    again = evaluate_entry(entry, cache_path=cache, progress=False, batch_size=batch_size)
    cached = time.perf_counter() - started
    assert first.generated == 3 * 2 * 128 and again.generated == 0
    print(
        f"evaluate (3 steps × 2 tasks × 128 items): cold {cold:.2f} s, fully cached rerun "
        f"{cached:.2f} s"
    )
