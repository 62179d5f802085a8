"""The vLLM request plan, tested without vLLM: unique adapter names and ids, rank rounding,
and adapters vLLM would mishandle routed to the hf backend."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from benchmark.errors import BenchmarkError
from benchmark.generation import assign_backends
from benchmark.generation.base import GenerationJob, ModelSpec, PromptItem
from benchmark.generation.vllm_plan import inspect_adapter, lora_specs, max_lora_rank, plan_run

LM = "base_model.model.model.language_model.layers.0.self_attn.q_proj"
VISION = "base_model.model.model.vision_tower.vision_model.encoder.layers.0.self_attn.q_proj"
EMBED = "base_model.model.model.language_model.embed_tokens"


def adapter(tmp_path: Path, name: str, *, tensors: list[str] = (LM,), **config: object) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "adapter_config.json").write_text(
        json.dumps({"r": 8, "peft_type": "LORA", "bias": "none", **config})
    )
    weights = {f"{t}.lora_A.weight": np.zeros((2, 2), np.float32) for t in tensors}
    save_file(weights, folder / "adapter_model.safetensors")
    return folder


def job(step: int, kind: str, path: Path, digest: str) -> GenerationJob:
    model = ModelSpec(step, kind, path, Path("/base"), digest)
    return GenerationJob(step, "t", model, 8, [PromptItem(f"k{step}", f"u{step}", "q", ())])


@pytest.mark.parametrize(
    ("ranks", "expected"),
    [([1], 1), ([8], 8), ([9], 16), ([8, 64], 64), ([100], 128), ([300], 320), ([512], 512)],
)
def test_rank_rounds_up_to_an_allowed_value(ranks: list[int], expected: int) -> None:
    assert max_lora_rank(ranks) == expected


def test_rank_above_maximum_is_an_error() -> None:
    with pytest.raises(BenchmarkError, match="exceeds"):
        max_lora_rank([1024])


def test_every_adapter_gets_a_unique_name_and_id(tmp_path: Path) -> None:
    models = [ModelSpec(i, "lora", tmp_path / f"s{i}", tmp_path, f"{i:064x}") for i in range(1, 6)]
    # two digests sharing the 8-hex prefix the id is derived from: ids must still differ
    models.append(ModelSpec(6, "lora", tmp_path / "s6", tmp_path, "0" * 7 + "1" + "f" * 56))
    specs = lora_specs(models)
    assert len({s.name for s in specs.values()}) == len(specs) == 6
    assert len({s.int_id for s in specs.values()}) == 6
    assert all(s.int_id >= 1 for s in specs.values())
    # the same content (a joint checkpoint reused at every step) gets the same request
    again = lora_specs([*models, ModelSpec(7, "lora", tmp_path / "s1", tmp_path, f"{1:064x}")])
    assert len(again) == 6


@pytest.mark.parametrize(
    ("config", "tensors", "reason"),
    [
        ({"modules_to_save": ["lm_head"]}, [LM], "modules_to_save ['lm_head']"),
        ({"use_dora": True}, [LM], "DoRA"),
        ({"bias": "lora_only"}, [LM], "LoRA bias"),
        ({"init_lora_weights": "pissa"}, [LM], "init_lora_weights"),
        ({}, [LM, VISION], "vision_tower"),
        ({"r": 1024}, [LM], "rank 1024"),
        # refused by vLLM only inside the running engine (EngineDeadError): found first
        ({"lora_bias": True}, [LM], "lora_bias"),
        ({"alora_invocation_tokens": [5, 6]}, [LM], "aLoRA"),
        ({"layer_replication": [[0, 2]]}, [LM], "layer_replication"),
        ({"use_qalora": True}, [LM], "QALoRA"),
        ({}, [LM, EMBED], "embed_tokens"),
        # a layout we cannot judge is not assumed to be the language model
        ({}, [LM, "base_model.model.model.mlp1.0"], "cannot tell which part"),
        ({}, [LM, "base_model.model.model.visual.blocks.0.attn.qkv"], "visual"),
    ],
)
def test_unsupported_adapters_are_detected(tmp_path, config, tensors, reason) -> None:
    check = inspect_adapter(adapter(tmp_path, "a", tensors=tensors, **config))
    assert not check.supported
    assert any(reason in r for r in check.reasons), check.reasons


def test_one_backend_per_matrix_unless_mixing_is_allowed(tmp_path: Path) -> None:
    ok1 = adapter(tmp_path, "ok1", r=16)
    ok2 = adapter(tmp_path, "ok2", r=32, rank_pattern={"q_proj": 40})
    bad = adapter(tmp_path, "bad", modules_to_save=["lm_head"])
    jobs = [
        job(0, "base", Path("/base"), "b" * 64),
        job(1, "lora", ok1, "1" * 64),
        job(2, "lora", bad, "2" * 64),
        job(3, "lora", ok2, "3" * 64),
        job(4, "full", tmp_path / "full", "4" * 64),
    ]
    models = {j.step: j.model for j in jobs}
    # by default the whole entry stops before any engine starts, naming the step and why
    with pytest.raises(BenchmarkError, match=r"step 2: adapter .*bad: modules_to_save") as err:
        assign_backends(models, "vllm")
    assert "--backend hf" in str(err.value) and "--allow-mixed-backends" in str(err.value)
    assert assign_backends(models, "hf") == dict.fromkeys(range(5), "hf")
    chosen = assign_backends(models, "vllm", allow_mixed=True)
    assert chosen == {0: "vllm", 1: "vllm", 2: "hf", 3: "vllm", 4: "vllm"}
    # a job meant for vLLM with an adapter it cannot serve is an error, not a silent reroute
    with pytest.raises(BenchmarkError, match="step 2: vLLM cannot serve"):
        plan_run(jobs)
    for one in jobs:
        one.backend = chosen[one.step]
    run = plan_run(jobs)
    assert [j.step for j in run.engine_jobs["/base"]] == [0, 1, 3]
    assert [j.step for j in run.hf_jobs] == [2]
    assert [j.step for j in run.full_jobs] == [4]
    assert run.max_lora_rank == 64  # max(16, 32, 40) rounded up
    assert set(run.loras) == {"1" * 64, "3" * 64}
    assert len(run.messages) == 1 and "step 2" in run.messages[0]


def test_bin_adapters_and_trainables_are_inspected(tmp_path: Path) -> None:
    import torch

    folder = tmp_path / "binonly"
    folder.mkdir()
    (folder / "adapter_config.json").write_text(json.dumps({"r": 8, "peft_type": "LORA"}))
    torch.save({f"{VISION}.lora_A.weight": torch.zeros(2, 2)}, folder / "adapter_model.bin")
    assert any("vision_tower" in r for r in inspect_adapter(folder).reasons)
    clean = adapter(tmp_path, "clean")
    torch.save({"model.mm_projector.0.weight": torch.zeros(2)}, clean / "non_lora_trainables.bin")
    assert any("non_lora_trainables.bin" in r for r in inspect_adapter(clean).reasons)


@pytest.mark.parametrize("init", ["eva", "gaussian", "orthogonal", "mica", "lora_ga", True])
def test_inits_vllm_serves_are_not_routed_away(tmp_path: Path, init) -> None:
    assert inspect_adapter(adapter(tmp_path, "a", init_lora_weights=init)).supported


def test_clean_adapter_is_supported(tmp_path: Path) -> None:
    check = inspect_adapter(adapter(tmp_path, "a", target_modules=".*language_model.*q_proj"))
    assert check.supported and check.rank == 8


# -- engine workers: a worker that dies is an error in seconds, never a hang ------------------


def _worker_dies(code: int, channel) -> None:
    import os

    os._exit(code)  # like an OOM kill: no message, no "done"


def _worker_half_then_dies(key: str, channel) -> None:
    import os

    channel.send(("batch", 0, [key], ["first"]))
    os._exit(9)  # killed before "done"


def _worker_dies_mid_message(key: str, channel) -> None:
    import os
    import threading

    # a big message still being written when the worker is killed (the parent used to block
    # on a half-read message forever)
    threading.Timer(0.5, lambda: os._exit(9)).start()
    channel.send(("batch", 0, [key], ["x" * 200_000_000]))
    os._exit(9)


def _worker_fails(channel) -> None:
    channel.send(("error", "ValueError: unsupported model type 'llava_onevision'"))
    raise SystemExit(1)


def _worker_ok(key: str, channel) -> None:
    channel.send(("batch", 0, [key], ["answer"]))
    channel.send(("done",))


def _worker_starts_a_child(channel) -> None:
    import multiprocessing

    # what vLLM's LLM() does (its engine core): a daemon worker could not
    child = multiprocessing.get_context("spawn").Process(target=print, args=("",))
    child.start()
    child.join()
    channel.send(("done",))


def test_a_dead_engine_worker_is_an_error_not_a_hang(tmp_path: Path) -> None:
    import time

    from benchmark.generation.vllm import run_in_subprocess

    one = job(1, "full", tmp_path / "ckpt", "1" * 64)
    got: list[tuple[str, str]] = []

    def sink(_job, items, texts) -> None:
        got.extend((i.key, t) for i, t in zip(items, texts, strict=True))

    started = time.monotonic()
    with pytest.raises(BenchmarkError, match=r"worker for /ckpts/step-1 exited with code 3"):
        run_in_subprocess(_worker_dies, (3,), [one], sink, "/ckpts/step-1")
    with pytest.raises(BenchmarkError, match="exited with code 9"):
        run_in_subprocess(_worker_half_then_dies, ("k1",), [one], sink, "/ckpts/step-1")
    assert got == [("k1", "first")]  # what it finished before dying reached the cache
    with pytest.raises(BenchmarkError, match="failed: ValueError: unsupported model type"):
        run_in_subprocess(_worker_fails, (), [one], sink, "/ckpts/step-1")
    with pytest.raises(BenchmarkError, match="exited with code 9"):
        run_in_subprocess(_worker_dies_mid_message, ("k1",), [one], sink, "/ckpts/step-1")
    run_in_subprocess(_worker_ok, ("k1",), [one], sink, "/ckpts/step-1")
    assert got[-1] == ("k1", "answer")
    run_in_subprocess(_worker_starts_a_child, (), [one], sink, "/ckpts/step-1")
    assert time.monotonic() - started < 90  # six spawned interpreters; seconds each


def test_limit_mm_per_prompt_follows_the_items(tmp_path: Path) -> None:
    from benchmark.generation.vllm import max_images

    two = PromptItem("k", "u", "q", (tmp_path / "a.png", tmp_path / "b.png"))
    jobs = [job(1, "lora", tmp_path, "1" * 64)]
    assert max_images(jobs) == 0
    jobs[0].items.append(two)
    assert max_images(jobs) == 2


def test_lora_on_an_architecture_vllm_cannot_adapt_is_planned_elsewhere(tmp_path: Path) -> None:
    base = tmp_path / "onevision"
    base.mkdir()
    (base / "config.json").write_text(
        json.dumps({"architectures": ["LlavaOnevisionForConditionalGeneration"]})
    )
    lora = ModelSpec(1, "lora", adapter(tmp_path, "a"), base, "1" * 64)
    models = {0: ModelSpec(0, "base", base, base, "0" * 64), 1: lora}
    with pytest.raises(BenchmarkError, match="no LoRA support for LlavaOnevision"):
        assign_backends(models, "vllm")  # before any engine starts, not an aborted run
    assert assign_backends(models, "vllm", allow_mixed=True) == {0: "vllm", 1: "hf"}


def test_tensor_parallel_reaches_workers_and_ray_units(tmp_path: Path, monkeypatch) -> None:
    """--tensor-parallel N must reach every process that starts an engine."""
    import subprocess
    import sys
    import types

    from benchmark.evaluation import ray_units, workers

    commands: list[list[str]] = []

    class Finished:
        returncode = 0

        def __init__(self, command, **_kw) -> None:
            commands.append(command)

        def wait(self, timeout=None) -> int:
            return 0

        def poll(self) -> int:
            return 0

    monkeypatch.setattr(subprocess, "Popen", Finished)
    units = [workers.WorkUnit([1], 3), workers.WorkUnit([2], 3)]
    common = {
        "entry_dir": tmp_path,
        "backend": "vllm",
        "cache_path": tmp_path / "c.sqlite",
        "batch_size": 8,
        "limit": None,
        "tasks": None,
        "progress": False,
    }
    workers.run_workers(units, tensor_parallel=2, **common)
    assert len(commands) == 2
    assert all(c[c.index("--tensor-parallel") + 1] == "2" for c in commands)

    calls: list[tuple] = []

    class Remote:
        def options(self, **_kw):
            return self

        def remote(self, *args):
            calls.append(args)
            return len(calls) - 1  # an object ref

    fake = types.SimpleNamespace(
        is_initialized=lambda: True,
        remote=lambda fn: Remote(),
        wait=lambda pending, num_returns=1: (pending[:1], pending[1:]),
        get=lambda ref: ray_units.UnitResult(list(calls[ref][2]), [], 0.0, "fake"),
    )
    monkeypatch.setitem(sys.modules, "ray", fake)
    ray_units.run_ray(
        units, address=None, device="cuda", gpus_per_unit=2.0, tensor_parallel=2, **common
    )
    signature = list(inspect_signature(ray_units.generate_unit))
    assert calls and all(args[signature.index("tensor_parallel")] == 2 for args in calls)


def inspect_signature(function) -> list[str]:
    import inspect

    return list(inspect.signature(function).parameters)
