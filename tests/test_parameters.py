"""The base model's parameter count, read from safetensors headers without loading a tensor."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from benchmark.generation.checkpoints import count_parameters


def test_counts_every_shard(tmp_path: Path) -> None:
    save_file(
        {"a": np.zeros((3, 4), np.float32), "b": np.zeros(5, np.float16)},
        tmp_path / "x-1.safetensors",
    )
    save_file(
        {"c": np.zeros((2, 2, 2), np.float32)},
        tmp_path / "x-2.safetensors",
        metadata={"format": "pt"},
    )
    (tmp_path / "config.json").write_text("{}")
    assert count_parameters(tmp_path) == 12 + 5 + 8


def test_unknown_without_safetensors_weights(tmp_path: Path) -> None:
    (tmp_path / "pytorch_model.bin").write_bytes(b"PK\x03\x04")
    assert count_parameters(tmp_path) is None
    assert count_parameters(tmp_path / "missing") is None


def test_unknown_when_a_header_is_not_one(tmp_path: Path) -> None:
    save_file({"a": np.zeros(4, np.float32)}, tmp_path / "ok.safetensors")
    (tmp_path / "bad.safetensors").write_bytes(struct.pack("<Q", 10**12) + b"{}")
    assert count_parameters(tmp_path) is None
    (tmp_path / "bad.safetensors").write_bytes(struct.pack("<Q", 6) + b"nojson")
    assert count_parameters(tmp_path) is None
    header = json.dumps({"a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}})
    (tmp_path / "bad.safetensors").write_bytes(struct.pack("<Q", len(header)) + header.encode())
    assert count_parameters(tmp_path) == 4 + 4
