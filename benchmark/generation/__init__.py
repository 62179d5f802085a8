"""Checkpoints × prompts → predictions: the only stage that loads models.

Backends, registered by name below: ``hf`` (transformers + peft, the reference; CPU and
GPU) and ``vllm`` (one engine for a LoRA sequence, one per full checkpoint; imported only
when asked for). The interface is in :mod:`.base`; :mod:`.checkpoints` resolves and hashes
checkpoints, :mod:`.cache` is the prediction cache and :mod:`.compat` the library check.
"""

from __future__ import annotations

from collections.abc import Callable

from benchmark.errors import BenchmarkError
from benchmark.generation.base import Backend


def _hf(**options: object) -> Backend:
    from benchmark.generation.hf import HFBackend

    return HFBackend(**options)  # type: ignore[arg-type]


def _vllm(**options: object) -> Backend:
    from benchmark.generation.vllm import VLLMBackend

    return VLLMBackend(**options)  # type: ignore[arg-type]


BACKENDS: dict[str, Callable[..., Backend]] = {"hf": _hf, "vllm": _vllm}


def get_backend(name: str, **options: object) -> Backend:
    """Instantiate a backend by name (imports its libraries only then).

    Model backends first check the installed model libraries (:mod:`.compat`): a
    known-bad combination is one clear error here, before any model is loaded.
    """
    make = BACKENDS.get(name)
    if make is None:
        raise BenchmarkError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    from benchmark.generation.compat import check_libraries

    check_libraries(f"run the {name} backend")
    return make(**options)
