"""`mllmcl-bench convert llava` against the original LLaVA codebase's own answers.

`tests/fixtures/llava_original/` was made by `llava-torch` 1.2.2.post1 (the original code,
in its own venv: `tools/llava_fixture/`): a tiny Vicuna + CLIP + stage-1 projector, the same
as a full `LlavaLlamaForCausalLM` folder, a 2-step LoRA sequence saved as LLaVA's training
script saves it (`adapter_model.bin` + `non_lora_trainables.bin`), and what the original
`load_pretrained_model` + greedy generation answered on three non-square images. Converted
here, our hf backend must give the same prompts, input ids, pixels, logits (within 1e-4;
measured 1.9e-6) and greedy tokens.

No pickle is committed: each of the codebase's `.bin` files is stored as `<name>.bin.safetensors`
(the same tensors), and the tests work on a temporary copy where they are written back as
`.bin` files with `torch.save` — the format the converter must read.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file
from tinyworld import prepare_small_suite

from benchmark.cli import main
from benchmark.convert.llava import ConversionError, convert_base, convert_sequence
from benchmark.generation.adapters import AdapterError, check_adapter, check_models
from benchmark.generation.base import GenerationJob, ModelSpec, PromptItem, conversation
from benchmark.generation.hf import (
    HFBackend,
    _apply_trainables,
    _restore,
    attach_adapter,
    pil_image_processor,
)
from benchmark.paths import HOME_ENV, TASKS_ENV

pytest.importorskip("sentencepiece", reason="the converter reads tokenizer.model with it")
pytestmark = pytest.mark.slow

STORED = Path(__file__).parent / "fixtures" / "llava_original"


def materialise(stored: Path) -> Path:
    """A temporary copy of the fixture with its `.bin` files written back (pickled tensors)."""
    folder = Path(tempfile.mkdtemp(prefix="llava-original-")) / stored.name
    atexit.register(shutil.rmtree, folder.parent, True)
    shutil.copytree(stored, folder)
    for stand_in in sorted(folder.rglob("*.bin.safetensors")):
        torch.save(load_file(stand_in), stand_in.with_suffix(""))
        stand_in.unlink()
    return folder


FIXTURE = materialise(STORED)
EXPECTED = json.loads((FIXTURE / "expected.json").read_text())
LOGIT_TOLERANCE = 1e-4
STEPS = [FIXTURE / "llava-step1-lora", FIXTURE / "llava-step2-lora"]


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    """The MLLM-CL way: Vicuna + stage-1 projector as the base, steps relative to it."""
    out = tmp_path_factory.mktemp("converted")
    return convert_sequence(
        out,
        STEPS,
        language_model=FIXTURE / "vicuna",
        projector=FIXTURE / "mm_projector.bin",
    )


def expected_items(step: int) -> list[dict]:
    return next(s for s in EXPECTED["steps"] if s["step"] == step)["items"]


def test_prompts_ids_pixels_and_logits_match_the_original_loader(converted) -> None:
    from PIL import Image
    from transformers import AutoModelForImageTextToText, AutoProcessor

    base, steps = converted
    processor = AutoProcessor.from_pretrained(base)
    pil_image_processor(processor, base)
    model = AutoModelForImageTextToText.from_pretrained(base, dtype=torch.float32).eval()
    worst = 0.0
    for step in (0, 1, 2):
        originals = {}
        if step:
            report = check_adapter(steps[step - 1], base)
            originals = _apply_trainables(model, steps[step - 1], report)
            attach_adapter(model, steps[step - 1], f"step{step}", report)
            model.set_adapter(f"step{step}")
            model.enable_adapters()
        for item in expected_items(step):
            prompt = processor.apply_chat_template(
                conversation(item["question"], 1), add_generation_prompt=True, tokenize=False
            )
            assert prompt == item["prompt"]  # vicuna_v1, the system line included
            with Image.open(FIXTURE / item["image"]) as image:
                inputs = processor(
                    text=[prompt], images=[image.convert("RGB")], return_tensors="pt"
                )
            ids = inputs["input_ids"][0].tolist()
            at = item["input_ids"].index(-200)  # LLaVA's image placeholder id
            image_ids = [model.config.image_token_id] * model.config.image_seq_length
            assert ids == item["input_ids"][:at] + image_ids + item["input_ids"][at + 1 :]
            pixels = inputs["pixel_values"][0].numpy().astype("<f4").tobytes()
            assert hashlib.sha256(pixels).hexdigest() == item["pixel_values"]["sha256_le_bytes"]
            with torch.no_grad():
                logits = model(**inputs).logits[0, -1].numpy()
            reference = np.array(item["next_token_logits"], dtype=np.float32)
            # the converted vocabulary has one more row (<image>), never in the reference
            worst = max(worst, float(np.abs(logits[: len(reference)] - reference).max()))
        if step:
            model.delete_adapter(f"step{step}")
            _restore(model, originals)
    assert worst < LOGIT_TOLERANCE, worst


def test_greedy_outputs_through_the_backend_match_the_original(converted) -> None:
    base, steps = converted
    models = [ModelSpec(0, "base", base, base, "0" * 64)] + [
        ModelSpec(i, "lora", path, base, f"{i}" * 64) for i, path in enumerate(steps, start=1)
    ]
    got: dict[int, dict[str, str]] = {}
    jobs = []
    for model in models:
        items = [
            PromptItem(f"{model.step}-{i}", it["image"], it["question"], (FIXTURE / it["image"],))
            for i, it in enumerate(expected_items(model.step))
        ]
        jobs.append(
            GenerationJob(model.step, "t", model, EXPECTED["generation"]["max_new_tokens"], items)
        )
    backend = HFBackend(device="cpu", batch_size=3)  # batched with left padding
    try:
        backend.run(
            jobs,
            lambda job, items, texts: got.setdefault(job.step, {}).update(
                {i.uid: t for i, t in zip(items, texts, strict=True)}
            ),
        )
    finally:
        backend.close()
    for step in (0, 1, 2):
        assert got[step] == {it["image"]: it["output_text"] for it in expected_items(step)}
    assert got[1] != got[2] != got[0]  # the steps and their projectors really differ


def test_both_base_forms_convert_to_the_same_weights(converted, tmp_path: Path) -> None:
    base, _ = converted
    full = convert_base(tmp_path / "from-llava", base=FIXTURE / "llava-base")
    a, b = load_file(base / "model.safetensors"), load_file(full.path / "model.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert full.image_token_id == 384 and full.vocab_size == 385


def test_the_unconverted_sequence_is_refused(converted) -> None:
    base, _ = converted
    raw = FIXTURE / "llava-base"
    with pytest.raises(AdapterError, match=r"original LLaVA codebase layout \(LlavaLlama"):
        check_models({0: ModelSpec(0, "base", raw, raw, "0" * 64)})
    with pytest.raises(AdapterError, match=r"original LLaVA codebase layout.*convert llava"):
        check_adapter(STEPS[0], base)
    # without its config.json (only the peft files kept), the tensor names give it away
    with pytest.raises(AdapterError, match=r"0 of 28 tensors.*original LLaVA codebase"):
        peft_only = base.parent / "peft-only"
        shutil.rmtree(peft_only, ignore_errors=True)
        peft_only.mkdir()
        for name in ("adapter_config.json", "adapter_model.bin"):
            shutil.copy(STEPS[0] / name, peft_only)
        check_adapter(peft_only, base)


def test_cli_converts_and_prints_the_checkpoint_hashes(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    code = main(
        [
            "convert", "llava", "--out", str(out), "--base", str(FIXTURE / "llava-base"),
            *map(str, STEPS),
        ]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert (out / "base" / "config.json").is_file() and (out / "step-2").is_dir()
    assert "kind: lora, path: step-1, sha256: " in captured.out
    config = json.loads((out / "step-1" / "adapter_config.json").read_text())
    assert "vision_tower" not in config["target_modules"]
    assert "language_model" in config["target_modules"]


def test_cli_refuses_what_it_cannot_convert(tmp_path: Path, capsys) -> None:
    code = main(
        ["convert", "llava", "--out", str(tmp_path / "o"), "--base", str(FIXTURE / "vicuna")]
    )
    assert code == 2
    assert "not an original LLaVA checkpoint" in capsys.readouterr().err
    with pytest.raises(ConversionError, match="no projector weights"):
        convert_base(
            tmp_path / "p", language_model=FIXTURE / "vicuna", vision_tower=str(FIXTURE / "clip")
        )


def test_converted_sequence_gives_the_matrix_of_the_same_weights_merged(
    converted, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Evaluated end to end, the converted LoRA sequence equals full checkpoints with the
    same weights built directly in transformers' layout (LoRA merged, projector copied)."""
    from peft import PeftModel
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from benchmark.evaluation.run import evaluate_entry

    base, steps = converted
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    monkeypatch.setenv(TASKS_ENV, str(tmp_path / "tasks"))
    prepare_small_suite(tmp_path, "duo", {"a": "colour", "b": "shape"}, test_size=6, seed=3)

    def entry(name: str, kind: str, paths: list[Path]) -> Path:
        folder = tmp_path / name
        folder.mkdir()
        shutil.copytree(base, folder / "model")
        for i, path in enumerate(paths, start=1):
            shutil.copytree(path, folder / f"step-{i}")
        data = {
            "name": name, "method": "Sequential LoRA", "method_family": "lora-sequential",
            "suite": "duo", "suite_version": 1, "date": "2026-11-30",
            "base_model": {"id": "tiny-llava-original", "path": "model"},
            "checkpoints": [
                {"step": i, "task": t, "kind": kind, "path": f"step-{i}"}
                for i, t in enumerate(["a", "b"], start=1)
            ],
        }  # fmt: skip
        (folder / "submission.yaml").write_text(yaml.safe_dump(data))
        return folder

    merged = []
    for i, adapter in enumerate(steps, start=1):
        model = AutoModelForImageTextToText.from_pretrained(base, dtype=torch.float32)
        trainables = load_file(adapter / "non_lora_trainables.safetensors")
        with torch.no_grad():
            for name, value in trainables.items():
                model.get_parameter(name).copy_(value)
        model = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
        model.save_pretrained(tmp_path / f"merged-{i}")
        AutoProcessor.from_pretrained(base).save_pretrained(tmp_path / f"merged-{i}")
        merged.append(tmp_path / f"merged-{i}")
    runs, answers = {}, {}
    for name, kind, paths in (("lora", "lora", steps), ("merged", "full", merged)):
        folder = entry(name, kind, paths)
        outcome = evaluate_entry(
            folder, cache_path=tmp_path / f"{name}.sqlite", progress=False, n_boot=50
        )
        runs[name] = outcome.results
        answers[name] = {
            path.relative_to(folder).as_posix(): [
                json.loads(line)["prediction"] for line in path.read_text().splitlines()
            ]
            for path in sorted((folder / "predictions").rglob("*.jsonl"))
        }
    assert len(answers["lora"]) == 6  # 3 steps x 2 tasks, the full matrix
    assert answers["lora"] == answers["merged"]
    assert runs["lora"].matrix == runs["merged"].matrix
    by_step = [answers["lora"][f"predictions/step-0{s}/a.jsonl"] for s in (0, 1, 2)]
    assert by_step[0] != by_step[1] != by_step[2]  # not a vacuous equality


def test_adapter_patterns_and_saved_modules_are_renamed(converted, tmp_path: Path) -> None:
    base, _ = converted
    step = shutil.copytree(STEPS[0], tmp_path / "llava-step1-lora")
    config = json.loads((step / "adapter_config.json").read_text())
    config["alpha_pattern"] = {"model.layers.0.self_attn.q_proj": 64}
    (step / "adapter_config.json").write_text(json.dumps(config))
    from benchmark.convert.llava import convert_adapter

    out = convert_adapter(step, tmp_path / "out", base=base)
    saved = json.loads((out / "adapter_config.json").read_text())
    assert saved["alpha_pattern"] == {"model.language_model.layers.0.self_attn.q_proj": 64}
    config["modules_to_save"] = ["some_head"]
    (step / "adapter_config.json").write_text(json.dumps(config))
    with pytest.raises(ConversionError, match="modules_to_save 'some_head'"):
        convert_adapter(step, tmp_path / "out2", base=base)


def test_a_tied_language_model_converts(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    vicuna = shutil.copytree(FIXTURE / "vicuna", tmp_path / "tied")
    config = json.loads((vicuna / "config.json").read_text())
    config["tie_word_embeddings"] = True
    (vicuna / "config.json").write_text(json.dumps(config))
    tensors = load_file(vicuna / "model.safetensors")
    del tensors["lm_head.weight"]
    save_file(tensors, vicuna / "model.safetensors")
    out = convert_base(
        tmp_path / "out",
        language_model=vicuna,
        projector=FIXTURE / "mm_projector.bin",
        vision_tower=str(FIXTURE / "clip"),
    )
    from transformers import AutoModelForImageTextToText

    model = AutoModelForImageTextToText.from_pretrained(out.path, dtype=torch.float32)
    embed = model.get_input_embeddings().weight
    assert embed.shape[0] == out.vocab_size
    assert torch.equal(model.get_output_embeddings().weight, embed)
