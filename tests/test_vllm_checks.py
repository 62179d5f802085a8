"""Our vLLM backend checked against vLLM's own code, on CPU (`make test-vllm`).

vLLM needs its own environment (vllm 0.33 pins torch 2.14): `make test-vllm` builds
`.venv-vllm` from `requirements/vllm-cpu.lock.txt` and runs this file with
`VLLM_TARGET_DEVICE=cpu`, where everything but the engine runs: vLLM's engine-argument
validation, its prompt renderer and its adapter checks. Elsewhere (the main test venv) the
file is skipped; under `make test-vllm` a missing vLLM is a failure.

- The exact engine arguments our backend passes, for each tiny model family, pass vLLM's
  own config code (and a wrong one does not: the check is real).
- Every prompt, with zero, one and two images, renders to the same token ids in vLLM's
  renderer as in the hf processor.
- Every adapter vLLM's own validation rejects is one our planner keeps away from vLLM; what
  we keep away that vLLM would accept is only what it would silently mishandle.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from pathlib import Path

import pytest

if importlib.util.find_spec("vllm") is None:
    if os.environ.get("MLLMCL_BENCH_REQUIRE_VLLM"):
        raise RuntimeError("make test-vllm: vLLM is not importable in this environment")
    pytest.skip("vLLM is not installed (make test-vllm runs these)", allow_module_level=True)

os.environ.setdefault("VLLM_TARGET_DEVICE", "cpu")

from benchmark.demo.tiny_families import build_tiny_internvl, build_tiny_qwen25vl
from benchmark.demo.tiny_models import build_tiny_llava, make_lora_adapter
from benchmark.generation.adapters import base_layout
from benchmark.generation.base import PromptItem
from benchmark.generation.hf import pil_image_processor
from benchmark.generation.vllm import engine_kwargs, render_prompts
from benchmark.generation.vllm_plan import inspect_adapter, max_lora_rank

BUILDERS = {
    "llava": build_tiny_llava,
    "qwen2_5_vl": build_tiny_qwen25vl,
    "internvl": build_tiny_internvl,
}


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    from PIL import Image, ImageDraw

    folder = tmp_path_factory.mktemp("images")
    out = []
    for name, size, colour in (("a", (28, 28), "red"), ("b", (56, 28), "blue")):
        image = Image.new("RGB", size, "white")
        ImageDraw.Draw(image).rectangle((4, 4, size[0] - 4, size[1] - 4), fill=colour)
        image.save(folder / f"{name}.png")
        out.append(folder / f"{name}.png")
    return out


@pytest.fixture(scope="module", params=sorted(BUILDERS))
def family(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp(request.param)
    base = BUILDERS[request.param](root / "base", seed=0)
    return request.param, base, root


def engine_config(kwargs: dict):
    from vllm.engine.arg_utils import EngineArgs

    return EngineArgs(**kwargs).create_engine_config()


def test_engine_arguments_pass_vllm_validation(family) -> None:
    _, base, _ = family
    kwargs = engine_kwargs(
        str(base), lora_rank=max_lora_rank([8, 9]), n_loras=3, options={"max_images": 2}
    )
    config = engine_config(kwargs)
    assert config.lora_config is not None and config.lora_config.max_lora_rank == 16
    assert config.model_config.multimodal_config.get_limit_per_prompt("image") == 2
    assert config.model_config.generation_config == "vllm"
    full = engine_config(engine_kwargs(str(base), lora_rank=None, n_loras=0, options={}))
    assert full.lora_config is None
    # the check is real: a rank vLLM does not allow is refused by the same code
    with pytest.raises(Exception, match=r"max_lora_rank|9"):
        engine_config({**kwargs, "max_lora_rank": 9})


def test_prompt_token_ids_equal_the_hf_processor(family, images) -> None:
    from PIL import Image
    from transformers import AutoProcessor
    from vllm.renderers.registry import renderer_from_config

    name, base, _ = family
    config = engine_config(
        engine_kwargs(str(base), lora_rank=None, n_loras=0, options={"max_images": 2})
    )
    renderer = renderer_from_config(config)
    processor = AutoProcessor.from_pretrained(base)
    pil_image_processor(processor, base)  # what the hf backend uses
    items = [
        PromptItem("k0", "u0", "Which shape is it?", ()),
        PromptItem("k1", "u1", "What colour is the shape?", (images[0],)),
        PromptItem("k2", "u2", "Do the two images match?", (images[0], images[1])),
    ]
    inputs = render_prompts(processor, items)
    rendered = renderer.render_cmpl(inputs)
    for item, entry, vllm_input in zip(items, inputs, rendered, strict=True):
        pictures = [Image.open(p).convert("RGB") for p in item.images]
        hf = processor(text=[entry["prompt"]], images=pictures or None, return_tensors="pt")
        assert vllm_input["prompt_token_ids"] == hf["input_ids"][0].tolist(), (name, item.uid)


FEATURES = [
    ({}, "plain LoRA"),
    ({"init_lora_weights": "eva"}, "eva init"),
    ({"init_lora_weights": "gaussian"}, "gaussian init"),
    ({"init_lora_weights": "pissa"}, "PiSSA init"),
    ({"init_lora_weights": "olora"}, "OLoRA init"),
    ({"init_lora_weights": "corda"}, "CorDA init"),
    ({"init_lora_weights": "loftq"}, "LoftQ init"),
    ({"use_dora": True}, "DoRA"),
    ({"lora_bias": True}, "lora_bias"),
    ({"bias": "lora_only"}, "bias"),
    ({"alora_invocation_tokens": [3, 4]}, "aLoRA"),
    ({"layer_replication": [[0, 1]]}, "layer_replication"),
    ({"use_bdlora": {"block": 2}}, "BD-LoRA"),
    ({"use_qalora": True}, "QALoRA"),
    ({"modules_to_save": ["lm_head"]}, "modules_to_save"),
    ({"r": 1024, "lora_alpha": 2048}, "rank above 512"),
]


@pytest.mark.parametrize(("change", "label"), FEATURES, ids=[label for _, label in FEATURES])
def test_vllm_rejects_only_adapters_we_keep_away(family, change, label, tmp_path: Path) -> None:
    from vllm.config.lora import LoRAConfig
    from vllm.lora.peft_helper import PEFTHelper

    name, base, root = family
    plain = root / "plain-adapter"
    if not plain.exists():
        make_lora_adapter(base, plain, seed=1)
    adapter = shutil.copytree(plain, tmp_path / "adapter")
    config = json.loads((adapter / "adapter_config.json").read_text())
    config.update(change)
    (adapter / "adapter_config.json").write_text(json.dumps(config))
    try:
        helper = PEFTHelper.from_local_dir(str(adapter), None)
        helper.validate_legal(LoRAConfig(max_lora_rank=512))
        vllm_accepts = True
    except ValueError:
        vllm_accepts = False
    ours = inspect_adapter(adapter, base_layout(base))
    if not vllm_accepts:
        assert not ours.supported, f"{name}/{label}: vLLM refuses it, we would send it"
    else:
        # we keep away only what vLLM accepts but cannot apply faithfully
        assert ours.supported or label == "modules_to_save", (name, label, ours.reasons)


def test_vision_lora_is_kept_away_though_vllm_loads_it(tmp_path: Path) -> None:
    """vLLM's validation accepts an adapter on the vision tower and the projector, then drops
    those weights with a warning: we keep it away (the silent case)."""
    from vllm.config.lora import LoRAConfig
    from vllm.lora.peft_helper import PEFTHelper

    base = build_tiny_llava(tmp_path / "base", seed=0)
    adapter = make_lora_adapter(base, tmp_path / "vision", seed=2, vision=True)
    PEFTHelper.from_local_dir(str(adapter), None).validate_legal(LoRAConfig(max_lora_rank=512))
    check = inspect_adapter(adapter, base_layout(base))
    assert not check.supported
    assert any("outside the language model" in r for r in check.reasons)
