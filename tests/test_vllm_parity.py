"""hf vs vLLM on the same checkpoints: the two backends must agree.

Runs only where vLLM and a CUDA GPU exist (`pip install -e '.[vllm,dev]'` on a GPU machine);
elsewhere it is skipped with the reason. Parity is measured as the share of identical
predictions (bf16 numerics and batch composition may flip a few greedy tokens), and the
LoRA steps must differ from the base model under vLLM too (an adapter silently dropped
would give the base model's outputs).
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest
from tinyworld import prepare_small_suite, write_submission

from benchmark.paths import HOME_ENV, TASKS_ENV


def _gpu() -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover
        return False
    return torch.cuda.is_available()


pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(
        importlib.util.find_spec("vllm") is None,
        reason="vLLM is not installed (pip install 'mllmcl-bench[vllm]')",
    ),
    pytest.mark.skipif(not _gpu(), reason="no CUDA GPU: the vLLM backend needs one"),
]

MIN_AGREEMENT = 0.9


def test_hf_and_vllm_agree_on_base_and_lora_steps(tmp_path: Path, monkeypatch) -> None:
    from benchmark.demo.tiny_models import build_tiny_llava, make_lora_adapter
    from benchmark.evaluation.run import evaluate_entry

    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    monkeypatch.setenv(TASKS_ENV, str(tmp_path / "tasks"))
    prepare_small_suite(
        tmp_path, "parity", {"a": "colour", "b": "shape"}, test_size=64, seed=7, max_new_tokens=8
    )
    entry = tmp_path / "entry"
    base = build_tiny_llava(entry / "model", seed=0)
    for step in (1, 2):  # language-model LoRA only: an adapter vLLM serves itself
        make_lora_adapter(base, entry / f"step-{step}", seed=step)
    write_submission(entry, "parity", ["a", "b"])
    runs = {}
    for backend in ("hf", "vllm"):
        out = tmp_path / backend
        evaluate_entry(
            entry,
            backend=backend,
            cache_path=tmp_path / f"{backend}.sqlite",
            out_dir=out,
            progress=False,
            n_boot=100,
        )
        runs[backend] = {
            path.relative_to(out).as_posix(): path.read_text().splitlines()
            for path in sorted(out.glob("predictions/*/*.jsonl"))
        }
        shutil.copy(out / "results.json", tmp_path / f"{backend}-results.json")
    assert runs["hf"].keys() == runs["vllm"].keys()
    same = total = 0
    for name, lines in runs["hf"].items():
        for a, b in zip(lines, runs["vllm"][name], strict=True):
            same += a == b
            total += 1
    agreement = same / total
    print(f"\nhf vs vllm: {same}/{total} identical predictions ({100 * agreement:.1f}%)")
    assert agreement >= MIN_AGREEMENT
    base_lines = runs["vllm"]["predictions/step-00/a.jsonl"]
    for step in ("step-01", "step-02"):
        assert runs["vllm"][f"predictions/{step}/a.jsonl"] != base_lines, (
            f"vLLM {step} gives the base model's outputs: the adapter was not applied"
        )


def test_full_checkpoint_and_an_hf_routed_adapter(tmp_path: Path, monkeypatch) -> None:
    """A full checkpoint gets its own engine process; an adapter vLLM cannot serve (a saved
    lm_head) goes to hf only with --allow-mixed-backends, recorded per step."""
    from peft import PeftModel

    from benchmark.demo.tiny_models import build_tiny_llava, load_tiny, make_lora_adapter
    from benchmark.entry.results import load_results
    from benchmark.errors import BenchmarkError
    from benchmark.evaluation.run import evaluate_entry

    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    monkeypatch.setenv(TASKS_ENV, str(tmp_path / "tasks"))
    prepare_small_suite(
        tmp_path, "mixed", {"a": "colour", "b": "shape"}, test_size=32, seed=5, max_new_tokens=8
    )
    entry = tmp_path / "entry"
    base = build_tiny_llava(entry / "model", seed=0)
    adapter = make_lora_adapter(base, tmp_path / "plain", seed=1)
    model, processor = load_tiny(base)
    merged = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    merged.save_pretrained(entry / "step-1")
    processor.save_pretrained(entry / "step-1")
    make_lora_adapter(base, entry / "step-2", seed=2, modules_to_save=["lm_head"])
    write_submission(
        entry,
        "mixed",
        ["a", "b"],
        checkpoints=[
            {"step": 1, "task": "a", "kind": "full", "path": "step-1"},
            {"step": 2, "task": "b", "kind": "lora", "path": "step-2"},
        ],
    )
    with pytest.raises(BenchmarkError, match="--allow-mixed-backends"):
        evaluate_entry(entry, backend="vllm", cache_path=tmp_path / "c.sqlite", progress=False)
    evaluate_entry(
        entry,
        backend="vllm",
        allow_mixed_backends=True,
        cache_path=tmp_path / "c.sqlite",
        progress=False,
        n_boot=50,
    )
    results = load_results(entry / "results.json")
    assert results.provenance.step_backends == {"0": "vllm", "1": "vllm", "2": "hf"}
