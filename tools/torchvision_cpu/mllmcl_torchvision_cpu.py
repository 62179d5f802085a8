"""PyPI's torchvision next to a CPU-only torch: the locked test environment only.

Installed into the dev venv by ``make setup`` (``install.py`` next to this file writes it and
a ``.pth`` line that calls :func:`install` at interpreter start, in every process of that
venv); never part of the package. PyPI has one torchvision wheel per torch release, built
against CUDA torch: its ``_C.so`` links ``libtorch_cuda.so``/``libc10_cuda.so``, which the
CPU build of torch lacks, so the extension cannot load. torchvision tolerates that (its C++
ops then raise "Couldn't load custom C++ ops"), except for two
``torch.library.register_fake("torchvision::nms"/"qnms")`` calls that are not guarded and make
``import torchvision`` itself fail ("operator torchvision::nms does not exist"). Every
transformers image processor imports torchvision when it is installed, so that one failure
would break every model; the Qwen2-VL and InternVL processors need torchvision (their video
processors), hence it is in the test environment at all.

:func:`install` adds an import hook that, on the first ``import torchvision`` and only if
``_C`` cannot be loaded, defines those two operator schemas (without kernels) first. The
import then completes: the pure-torch image transforms the processors use work, and the C++
ops still raise torchvision's own error. Nothing changes where torchvision is usable
(matching CUDA torch, or a CPU build of torchvision), nor before torchvision is imported.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import sys
from pathlib import Path
from typing import Any

# torchvision ops whose fake (meta) kernels are registered without checking that _C loaded
UNGUARDED_OPS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
)
_library: Any = None  # the torch.library.Library holding the schemas; must stay alive


class _Hook(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "torchvision":
            sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _Hook)]
            with contextlib.suppress(Exception):  # never the reason an import fails
                _prepare()
        return None  # the regular finders import it


def _prepare() -> None:
    global _library
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return
    extensions = [p for d in spec.submodule_search_locations for p in Path(d).glob("_C.*so")]
    if not extensions:
        return
    import torch

    try:
        torch.ops.load_library(str(extensions[0]))  # what torchvision does first
        return
    except OSError:
        pass
    _library = torch.library.Library("torchvision", "FRAGMENT")
    for schema in UNGUARDED_OPS:
        _library.define(schema)


def install() -> None:
    """Add the import hook (once); a no-op when torchvision is already imported."""
    if "torchvision" in sys.modules or any(isinstance(f, _Hook) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _Hook())
