"""The Backend interface, ModelSpec, prompt items and the conversation both backends render."""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

ModelKind = Literal["base", "lora", "full"]
# Files whose contents decide how a prompt is rendered and an image is preprocessed.
PROMPT_FILES = (
    "chat_template.jinja",
    "chat_template.json",
    "tokenizer_config.json",
    "processor_config.json",
    "preprocessor_config.json",
    "special_tokens_map.json",
)
PROMPT_BUILDER_VERSION = "2"  # 2: PIL image processors, whatever is installed


@dataclass(frozen=True)
class ModelSpec:
    """One model to generate with: the base (step 0), a LoRA adapter on it, or a full model."""

    step: int
    kind: ModelKind
    path: Path  # weights (the adapter folder for a LoRA step)
    base_path: Path  # the base model folder (== path for base and full models)
    content_hash: str  # sha256 over the folder's files: a folder changed in place differs
    label: str = ""

    @property
    def processor_path(self) -> Path:
        """Where the tokenizer, chat template and image processor come from."""
        return self.base_path if self.kind == "lora" else self.path


@dataclass(frozen=True)
class PromptItem:
    key: str  # cache key
    uid: str
    question: str
    images: tuple[Path, ...]


@dataclass
class GenerationJob:
    step: int
    task: str
    model: ModelSpec
    max_new_tokens: int
    items: list[PromptItem] = field(default_factory=list)
    backend: str = ""  # the backend that must generate it ("" = whichever runs the job)


Sink = Callable[[GenerationJob, Sequence[PromptItem], Sequence[str]], None]


class Backend(ABC):
    """Turns prompts into predictions. Greedy decoding; results independent of batch size."""

    name: str

    @abstractmethod
    def run(self, jobs: Sequence[GenerationJob], sink: Sink) -> None:
        """Generate every item of every job, calling ``sink`` after each finished batch."""

    def library_versions(self) -> dict[str, str]:
        return {}

    def close(self) -> None:  # noqa: B027 - optional hook
        """Free models and engines."""


def conversation(question: str, n_images: int) -> list[dict[str, object]]:
    """The one chat turn both backends render with the model's own chat template."""
    content: list[dict[str, object]] = [{"type": "image"} for _ in range(n_images)]
    content.append({"type": "text", "text": question})
    return [{"role": "user", "content": content}]


def prompt_fingerprint(model_dir: Path) -> str:
    """sha256 over the files that decide prompt rendering and image preprocessing."""
    digest = hashlib.sha256(f"builder {PROMPT_BUILDER_VERSION}\n".encode())
    for name in PROMPT_FILES:
        path = Path(model_dir) / name
        if path.is_file():
            digest.update(f"{name}\n".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def chat_template_sha256(model_dir: Path) -> str | None:
    """sha256 of the chat template alone (recorded in results for provenance)."""
    model_dir = Path(model_dir)
    jinja = model_dir / "chat_template.jinja"
    if jinja.is_file():
        return hashlib.sha256(jinja.read_bytes()).hexdigest()
    for name in ("chat_template.json", "tokenizer_config.json", "processor_config.json"):
        path = model_dir / name
        if path.is_file():
            template = json.loads(path.read_text(encoding="utf-8")).get("chat_template")
            if template:
                return hashlib.sha256(str(template).encode()).hexdigest()
    return None
