"""Checkpoint references → local folders with a content hash.

A reference is a path inside the entry folder or ``hf://org/repo@<sha>[/subdir]`` (fetched
with huggingface_hub at that exact revision, into the standard HF cache). The content hash
is a sha256 over every file's relative path and bytes, so an adapter folder changed in
place is a different checkpoint. Hashing big full checkpoints is memoised on (path, size,
mtime) in ``<data home>/cache/file-hashes.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from benchmark._files import sha256_file
from benchmark.entry.submission import HF_URI, SubmissionError, resolve_local
from benchmark.errors import BenchmarkError
from benchmark.paths import data_home


def resolve_checkpoint(entry_dir: Path, reference: str) -> Path:
    """The local folder of a checkpoint reference (downloading ``hf://`` ones)."""
    match = HF_URI.match(reference)
    if match is None:
        path = resolve_local(entry_dir, reference)
        if not path.exists():
            raise SubmissionError(
                f"checkpoint {reference!r} not found in {entry_dir} (build or download it first)"
            )
        return path
    from huggingface_hub import snapshot_download

    repo, revision, subdir = match["repo"], match["revision"], match["subdir"]
    try:
        root = Path(
            snapshot_download(
                repo,
                revision=revision,
                allow_patterns=[f"{subdir}/*"] if subdir else None,
            )
        )
    except Exception as exc:  # the hub raises many types; report one line
        raise BenchmarkError(f"cannot fetch {reference}: {type(exc).__name__}: {exc}") from None
    path = root / subdir if subdir else root
    if not path.is_dir():
        raise BenchmarkError(f"{reference}: no folder {subdir!r} in {repo}@{revision}")
    return path


class _HashMemo:
    def __init__(self) -> None:
        self.path = data_home() / "cache" / "file-hashes.json"
        try:
            self.data: dict[str, str] = json.loads(self.path.read_text())
        except (OSError, ValueError):
            self.data = {}
        self.dirty = False

    def sha256(self, file: Path) -> str:
        stat = file.stat()
        if stat.st_size < (16 << 20):  # small files: hashing is cheaper than bookkeeping
            return sha256_file(file)
        key = f"{file.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
        if key not in self.data:
            self.data[key] = sha256_file(file)
            self.dirty = True
        return self.data[key]

    def save(self) -> None:
        """Best effort: it is only a memo, so a full disk or a read-only home skips it."""
        if not self.dirty:
            return
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.partial")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(self.data))
            os.replace(tmp, self.path)
        except OSError:
            tmp.unlink(missing_ok=True)


def content_hash(folder: Path) -> str:
    """sha256 over (relative path, sha256 of bytes) of every file under ``folder``."""
    folder = Path(folder)
    if folder.is_file():
        return sha256_file(folder)
    memo = _HashMemo()
    digest = hashlib.sha256()
    files = sorted(p for p in folder.rglob("*") if p.is_file() and ".cache" not in p.parts)
    if not files:
        raise BenchmarkError(f"checkpoint folder {folder} is empty")
    for file in files:
        digest.update(f"{file.relative_to(folder).as_posix()}\0{memo.sha256(file)}\n".encode())
    memo.save()
    return digest.hexdigest()


MAX_SAFETENSORS_HEADER = 100 << 20  # a header larger than this is not a checkpoint's


def count_parameters(folder: Path) -> int | None:
    """Parameters of the model in ``folder``, from the headers of its ``*.safetensors`` files
    (shapes only: nothing is loaded onto a device, no tensor is read). None when the folder
    has no safetensors weights or a header cannot be read."""
    folder = Path(folder)
    files = sorted(folder.glob("*.safetensors")) if folder.is_dir() else []
    total = 0
    for file in files:
        try:
            with open(file, "rb") as handle:
                size = int.from_bytes(handle.read(8), "little")
                if not 0 < size <= MAX_SAFETENSORS_HEADER:
                    return None
                header = json.loads(handle.read(size))
        except (OSError, ValueError):
            return None
        for name, info in header.items():
            if name == "__metadata__" or not isinstance(info, dict):
                continue
            count = 1
            for dim in info.get("shape", []):
                count *= int(dim)
            total += count
    return total or None
