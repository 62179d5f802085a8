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
