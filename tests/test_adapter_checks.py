"""Adapters as the field ships them, checked before any generation: nothing that would
silently change nothing gets through, and everything an adapter holds is applied.

Each silent case of the checkpoint issue has a test here that failed before the pre-flight
(`benchmark.generation.adapters`) and the hf backend's handling of non-LoRA trainables:
an adapter in the original LLaVA codebase's names, a `non_lora_trainables` file, an adapter
saved only as `adapter_model.bin`, an untrained adapter, and `modules_to_save`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from tinyworld import make_entry

from benchmark.cli import main
from benchmark.generation.adapters import AdapterError, check_adapter, check_models
from benchmark.generation.base import GenerationJob, ModelSpec, PromptItem
from benchmark.generation.hf import HFBackend

pytestmark = pytest.mark.slow

PROJECTOR = ("model.multi_modal_projector.linear_1", "model.multi_modal_projector.linear_2")


@pytest.fixture(scope="module")
def items(tmp_path_factory: pytest.TempPathFactory) -> list[PromptItem]:
    from PIL import Image

    folder = tmp_path_factory.mktemp("images")
    out = []
    for i, colour in enumerate([(220, 30, 30), (30, 200, 40), (20, 40, 210), (240, 240, 20)]):
        path = folder / f"{i}.png"
        Image.new("RGB", (28, 28), colour).save(path)
        out.append(PromptItem(f"k{i}", f"u{i}", "what colour is it", (path,)))
    out.append(PromptItem("k-text", "u-text", "how many shapes", ()))
    return out


def generate(models: list[ModelSpec], items: list[PromptItem]) -> dict[int, list[str]]:
    """step → predictions in item order, from one HFBackend run over all the models."""
    backend = HFBackend(device="cpu", batch_size=2)
    out: dict[int, dict[str, str]] = {}

    def sink(job, batch, texts) -> None:
        out.setdefault(job.step, {}).update({i.key: t for i, t in zip(batch, texts, strict=True)})

    try:
        backend.run([GenerationJob(m.step, "t", m, 6, list(items)) for m in models], sink)
    finally:
        backend.close()
    return {step: [got[i.key] for i in items] for step, got in out.items()}


def lora(step: int, path: Path, base: Path) -> ModelSpec:
    return ModelSpec(step, "lora", path, base, f"{step:064d}")


def copy_adapter(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def projector_weights(base: Path, seed: int) -> dict[str, torch.Tensor]:
    """Random projector weights with the base's shapes (a 'trained' projector)."""
    from benchmark.demo.tiny_models import load_tiny

    model, _ = load_tiny(base)
    generator = torch.Generator().manual_seed(seed)
    return {
        f"{module}.{kind}": torch.randn(
            model.get_parameter(f"{module}.{kind}").shape, generator=generator
        )
        for module in PROJECTOR
        for kind in ("weight", "bias")
    }


def merged_by_hand(
    base: Path, adapter: Path | None, out: Path, trainables: dict[str, torch.Tensor] | None
) -> Path:
    """The same weights as a full checkpoint: LoRA merged with peft, trainables copied in."""
    from peft import PeftModel

    from benchmark.demo.tiny_models import load_tiny

    model, processor = load_tiny(base)
    if adapter is not None:
        model = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    with torch.no_grad():
        for name, value in (trainables or {}).items():
            model.get_parameter(name).copy_(value)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out


def test_llava_codebase_names_are_refused_with_the_conversion(env, tmp_path: Path) -> None:
    base, adapter = env["base"], env["adapters"][0]
    old = tmp_path / "llava-step1-lora"
    old.mkdir()
    shutil.copy(adapter / "adapter_config.json", old)
    tensors = load_file(adapter / "adapter_model.safetensors")
    # the original LLaVA codebase's LlavaLlamaForCausalLM: no `language_model` level
    save_file(
        {k.replace("model.language_model.", "model."): v for k, v in tensors.items()},
        old / "adapter_model.safetensors",
    )
    with pytest.raises(AdapterError) as err:
        check_adapter(old, base, label="step 1")
    message = str(err.value)
    assert "0 of 8 tensors" in message and "original LLaVA codebase" in message
    assert "mllmcl-bench convert llava" in message
    assert "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight" in message
    # the hf backend refuses it too (it used to load it as a no-op and answer as the base)
    with pytest.raises(AdapterError, match="0 of 8 tensors"):
        generate([lora(1, old, base)], [])


def test_evaluate_refuses_an_unconverted_entry_before_generating(
    env, tmp_path: Path, capsys
) -> None:
    entry = make_entry(tmp_path, env)
    step = entry / "step-2"
    tensors = load_file(step / "adapter_model.safetensors")
    (step / "adapter_model.safetensors").unlink()
    torch.save(
        {k.replace("model.language_model.", "model."): v for k, v in tensors.items()},
        step / "adapter_model.bin",
    )
    cache = tmp_path / "cache.sqlite"
    code = main(["evaluate", "--submission", str(entry), "--cache", str(cache), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert "step 2" in err and "original LLaVA codebase" in err and "convert llava" in err
    assert len(err.strip().splitlines()) == 1, err
    assert not cache.exists() and not (entry / "results.json").exists()


def test_original_llava_base_folder_is_refused(env, tmp_path: Path) -> None:
    base = shutil.copytree(env["base"], tmp_path / "llava-v1.5-7b")
    config = json.loads((base / "config.json").read_text())
    config.update(architectures=["LlavaLlamaForCausalLM"], mm_vision_tower="openai/clip")
    (base / "config.json").write_text(json.dumps(config))
    models = {0: ModelSpec(0, "base", base, base, "0" * 64)}
    with pytest.raises(AdapterError, match=r"original LLaVA codebase layout \(LlavaLlama"):
        check_models(models)


def test_tensors_for_another_model_are_refused(env, tmp_path: Path) -> None:
    adapter = copy_adapter(env["adapters"][0], tmp_path / "other")
    tensors = load_file(adapter / "adapter_model.safetensors")
    renamed = {k.replace("self_attn.q_proj", "attention.query"): v for k, v in tensors.items()}
    save_file(renamed, adapter / "adapter_model.safetensors")
    with pytest.raises(AdapterError, match=r"4 of 8 tensors map .* 4 match no module"):
        check_adapter(adapter, env["base"])


def test_wrong_shapes_are_refused(env, tmp_path: Path) -> None:
    adapter = copy_adapter(env["adapters"][0], tmp_path / "shapes")
    tensors = load_file(adapter / "adapter_model.safetensors")
    key = next(k for k in tensors if k.endswith("q_proj.lora_A.weight"))
    tensors[key] = torch.zeros(tensors[key].shape[0], tensors[key].shape[1] + 1)
    save_file(tensors, adapter / "adapter_model.safetensors")
    with pytest.raises(AdapterError, match="wrong shape"):
        check_adapter(adapter, env["base"])


def test_an_adapter_that_changes_nothing_is_an_error(env, tmp_path: Path) -> None:
    adapter = copy_adapter(env["adapters"][0], tmp_path / "untrained")
    tensors = load_file(adapter / "adapter_model.safetensors")
    zeroed = {k: (torch.zeros_like(v) if ".lora_B." in k else v) for k, v in tensors.items()}
    save_file(zeroed, adapter / "adapter_model.safetensors")
    with pytest.raises(AdapterError, match="would change nothing"):
        check_adapter(adapter, env["base"])


def test_pickles_other_than_tensors_are_never_loaded(env, tmp_path: Path) -> None:
    import pickle

    adapter = copy_adapter(env["adapters"][0], tmp_path / "pickled")
    (adapter / "adapter_model.safetensors").unlink()
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    with open(adapter / "adapter_model.bin", "wb") as handle:
        pickle.dump({"x": Payload()}, handle)
    with pytest.raises(AdapterError, match="not a plain tensor file"):
        check_adapter(adapter, env["base"])
    assert not marker.exists()


def test_bin_adapter_gives_the_same_outputs_as_safetensors(env, tmp_path: Path, items) -> None:
    base, adapter = env["base"], env["adapters"][0]
    old_peft = copy_adapter(adapter, tmp_path / "bin")
    tensors = load_file(old_peft / "adapter_model.safetensors")
    (old_peft / "adapter_model.safetensors").unlink()
    torch.save(tensors, old_peft / "adapter_model.bin")  # what older peft writes
    got = generate([lora(1, adapter, base), lora(2, old_peft, base)], items)
    assert got[1] == got[2]


def test_projector_trainables_are_applied_for_their_step_only(env, tmp_path: Path, items) -> None:
    base, adapter = env["base"], env["adapters"][0]
    step1 = copy_adapter(adapter, tmp_path / "p1")
    step2 = copy_adapter(adapter, tmp_path / "p2")
    p1, p2 = projector_weights(base, 1), projector_weights(base, 2)
    save_file(p1, step1 / "non_lora_trainables.safetensors")
    # .bin with peft's prefix, as the LLaVA codebase writes it (names converted)
    torch.save(
        {f"base_model.model.{k}": v for k, v in p2.items()}, step2 / "non_lora_trainables.bin"
    )
    plain = ModelSpec(0, "base", base, base, "b" * 64)
    got = generate(
        [plain, lora(1, step1, base), lora(2, step2, base), lora(3, adapter, base)], items
    )
    image_items = [i for i, item in enumerate(items) if item.images]
    # only the projector differs between steps 1 and 2: image answers differ
    assert any(got[1][i] != got[2][i] for i in image_items)
    # equal to the same weights merged by hand, run as full checkpoints
    merged1 = merged_by_hand(base, adapter, tmp_path / "m1", p1)
    merged2 = merged_by_hand(base, adapter, tmp_path / "m2", p2)
    reference = generate(
        [
            ModelSpec(1, "full", merged1, merged1, "1" * 64),
            ModelSpec(2, "full", merged2, merged2, "2" * 64),
        ],
        items,
    )
    assert got[1] == reference[1] and got[2] == reference[2]
    # restored before the next step: the plain adapter and the base are unaffected
    plain_again = generate([plain, lora(3, adapter, base)], items)
    assert got[0] == plain_again[0] and got[3] == plain_again[3]


def test_llava_named_trainables_are_refused(env, tmp_path: Path) -> None:
    step = copy_adapter(env["adapters"][0], tmp_path / "llava-named")
    p = projector_weights(env["base"], 1)
    torch.save(
        {
            k.replace(
                "model.multi_modal_projector.linear_1", "base_model.model.model.mm_projector.0"
            ).replace(
                "model.multi_modal_projector.linear_2", "base_model.model.model.mm_projector.2"
            ): v
            for k, v in p.items()
        },
        step / "non_lora_trainables.bin",
    )
    with pytest.raises(AdapterError, match=r"8 of 12 .*mm_projector.*original LLaVA codebase"):
        check_adapter(step, env["base"])


def test_modules_to_save_and_vision_lora_equal_a_hand_merge(env, tmp_path: Path, items) -> None:
    from benchmark.demo.tiny_models import make_lora_adapter

    base = env["base"]
    head = make_lora_adapter(base, tmp_path / "head", seed=7, modules_to_save=["lm_head"])
    vision = make_lora_adapter(base, tmp_path / "vision", seed=8, vision=True)
    plain = env["adapters"][1]
    # a modules_to_save adapter followed by adapters without it (peft used to fail here)
    got = generate([lora(1, head, base), lora(2, vision, base), lora(3, plain, base)], items)
    merged = [
        merged_by_hand(base, adapter, tmp_path / f"m{i}", None)
        for i, adapter in enumerate((head, vision, plain), start=1)
    ]
    reference = generate(
        [ModelSpec(i, "full", m, m, f"{i}" * 64) for i, m in enumerate(merged, start=1)], items
    )
    assert got == reference
    assert got[1] != got[3] and got[2] != got[3]


def test_generation_config_of_a_checkpoint_does_not_change_decoding(
    env, tmp_path: Path, items, capsys
) -> None:
    base = shutil.copytree(env["base"], tmp_path / "sampling")
    config = json.loads((base / "generation_config.json").read_text())
    config.update(do_sample=True, temperature=0.7, top_p=0.5, no_repeat_ngram_size=1)
    (base / "generation_config.json").write_text(json.dumps(config))
    got = generate([ModelSpec(0, "base", base, base, "s" * 64)], items)
    clean = generate([ModelSpec(0, "base", env["base"], env["base"], "c" * 64)], items)
    assert got == clean
    err = capsys.readouterr().err
    assert "do_sample, no_repeat_ngram_size, temperature, top_p; ignored" in err


def test_mixed_backends_are_explicit_and_keyed_by_the_generating_backend(
    env, tmp_path: Path
) -> None:
    from benchmark.demo.tiny_models import make_lora_adapter
    from benchmark.errors import BenchmarkError
    from benchmark.evaluation.generate import pending_jobs
    from benchmark.evaluation.plan import plan

    entry = make_entry(tmp_path, env)
    shutil.rmtree(entry / "step-2")
    make_lora_adapter(entry / "model", entry / "step-2", seed=2, modules_to_save=["lm_head"])
    with pytest.raises(BenchmarkError, match=r"vLLM cannot serve 1 step.*step 2: .*lm_head"):
        plan(entry, backend="vllm")
    mixed = plan(entry, backend="vllm", allow_mixed_backends=True)
    assert mixed.backends == {0: "vllm", 1: "vllm", 2: "hf", 3: "vllm"}
    assert mixed.mixed_backends
    jobs, _ = pending_jobs(mixed, "vllm", None)
    assert {j.step: j.backend for j in jobs} == mixed.backends
    # the hf-generated step is cached under hf's key: a later hf run reuses it, and a
    # vLLM-generated cell is never served to an hf run (or the other way round)
    hf_jobs, _ = pending_jobs(plan(entry, backend="hf"), "hf", None)
    keys = {j.step: {i.key for i in j.items} for j in jobs}
    hf_keys = {j.step: {i.key for i in j.items} for j in hf_jobs}
    assert keys[2] == hf_keys[2]
    assert not keys[1] & hf_keys[1]


def test_remote_code_is_opt_in_and_needs_a_pinned_base(env, tmp_path: Path, capsys) -> None:
    entry = make_entry(tmp_path, env)  # base_model.path is a folder inside the entry
    cache = tmp_path / "c.sqlite"
    argv = ["evaluate", "--submission", str(entry), "--cache", str(cache), "--quiet"]
    assert main([*argv, "--trust-remote-code"]) == 2
    assert "pin the base to a hub commit" in capsys.readouterr().err
    assert not cache.exists()
    assert main([*argv, "--limit", "1", "--steps", "0"]) == 0
    # off by default, and recorded as such (a full run writes it to results.json)
    from benchmark.evaluation.run import evaluate_entry

    outcome = evaluate_entry(entry, cache_path=cache, progress=False, n_boot=20)
    assert outcome.results.provenance.trust_remote_code is False


def test_cache_keys_carry_the_generating_libraries(env, tmp_path: Path, monkeypatch) -> None:
    from benchmark.evaluation import generate
    from benchmark.evaluation.plan import plan

    entry = make_entry(tmp_path, env)
    planned = plan(entry, backend="hf")
    before = {i.key for j in generate.pending_jobs(planned, "hf", None)[0] for i in j.items}
    assert generate.library_versions("hf")["peft"]  # read from metadata, nothing imported
    monkeypatch.setattr(
        generate, "library_versions", lambda backend: {"peft": "0.99", "transformers": "9"}
    )
    after = {i.key for j in generate.pending_jobs(planned, "hf", None)[0] for i in j.items}
    assert before and not before & after  # an upgrade regenerates instead of mixing


def test_saved_base_parameters_are_restored_after_their_step(env, tmp_path: Path, items) -> None:
    """peft loads a saved tensor outside modules_to_save straight into the base: it must not
    leak into the steps after it (found in review)."""
    base = env["base"]
    adapter = copy_adapter(env["adapters"][0], tmp_path / "saved-head")
    tensors = load_file(adapter / "adapter_model.safetensors")
    from benchmark.demo.tiny_models import load_tiny

    model, _ = load_tiny(base)
    head = model.get_parameter("lm_head.weight")
    tensors["base_model.model.lm_head.weight"] = torch.randn(head.shape) * 3
    save_file(tensors, adapter / "adapter_model.safetensors")
    plain = ModelSpec(0, "base", base, base, "b" * 64)
    backend = HFBackend(device="cpu", batch_size=2)
    runs: list[dict[str, str]] = []

    def sink(job, batch, texts) -> None:
        runs[-1].update({i.key: t for i, t in zip(batch, texts, strict=True)})

    try:
        for spec in (plain, lora(1, adapter, base), plain):  # one backend: the base stays loaded
            runs.append({})
            backend.run([GenerationJob(spec.step, "t", spec, 6, list(items))], sink)
    finally:
        backend.close()
    assert runs[0] == runs[2] != runs[1]


def test_a_full_checkpoint_with_unloadable_weights_is_an_error(env, tmp_path: Path) -> None:
    from benchmark.errors import BenchmarkError

    full = shutil.copytree(env["base"], tmp_path / "merged-with-prefix")
    tensors = load_file(full / "model.safetensors")
    save_file({f"base_model.model.{k}": v for k, v in tensors.items()}, full / "model.safetensors")
    spec = ModelSpec(1, "full", full, env["base"], "f" * 64)
    with pytest.raises(BenchmarkError, match="weights missing from the checkpoint"):
        generate([spec], [PromptItem("k", "u", "q", ())])  # used to run with random weights


def test_remote_code_never_runs_from_a_checkpoint(env, tmp_path: Path) -> None:
    full = shutil.copytree(env["base"], tmp_path / "full-with-code")
    marker = tmp_path / "ran"
    (full / "evil_config.py").write_text(
        "from pathlib import Path\n"
        "from transformers import LlavaConfig\n"
        f"Path({str(marker)!r}).write_text('ran')\n"
        "class EvilConfig(LlavaConfig):\n    pass\n"
    )
    config = json.loads((full / "config.json").read_text())
    config["auto_map"] = {"AutoConfig": "evil_config.EvilConfig"}
    (full / "config.json").write_text(json.dumps(config))
    backend = HFBackend(device="cpu", trust_remote_code=True)  # trusted: for the base only
    spec = ModelSpec(1, "full", full, env["base"], "e" * 64)
    try:
        backend.run(
            [GenerationJob(1, "t", spec, 4, [PromptItem("k", "u", "q", ())])], lambda *a: None
        )
    finally:
        backend.close()
    assert not marker.exists()
