"""Upstream files → one local raw directory, with the sha256 of every raw file.

Two ways in, one layout out:

- **hub**: ``huggingface_hub.snapshot_download(repo_id, repo_type="dataset", revision=...,
  allow_patterns=...)`` into the standard HF cache (``HF_HOME``, ``HF_HUB_OFFLINE``, tokens:
  the usual environment variables apply). An unpinned revision is allowed but warns, and the
  commit it resolved to is recorded.
- **url** (``source.options.extra_files``): single files published outside the hub (the
  MMT-Bench test answers are a GitHub issue attachment), each ``{url, sha256, path}``. Fetched
  with ``huggingface_hub``'s HTTP client into ``<data home>/cache/downloads/<sha256>/``; a
  pinned ``sha256`` is checked before the file is kept (and a cached copy is used without the
  network), an unpinned one warns and the hash it got is recorded.
- **mirror** (``tasks prepare SUITE --from DIR``): the same files laid out as in the hub repo,
  under ``DIR``. Extra repos (``source.options.extra_repos``: annotation files such as MathVista
  testmini) are looked up under ``DIR/<subdir>``, extra files at ``DIR/<path>``::

      DIR/                    the suite's main repo (e.g. MLLM-CL/MLLM-CL), as on the hub
      DIR/<subdir>/           one folder per extra repo, as on the hub (e.g. DIR/mathvista/)
      DIR/<path>              one file per extra file (e.g. DIR/mmt-bench/MMT-Bench_…tsv)

  Hidden files and folders (``.git``, ``.cache``, ``.gitattributes``) are ignored, and a
  suite's ``allow_patterns`` filter a mirror exactly as they filter a download.

Either way the loaders read a *view* built under ``<data home>/raw/``: symlinks to the raw
files, with every archive (``.tar``, ``.tar.gz``/``.tgz``, ``.zip``) extracted safely into
``<data home>/cache/extracted/<archive sha256>/`` (once per archive content) and shown at the
folder that holds the archive, as ``tar -xf`` run there would. Extra repos appear under
their ``subdir``. The manifest's raw files are the downloaded files (archives, not their
members) keyed by their path in the view.

Upstream files are untrusted. A symbolic link is followed only where it resolves inside the
mirror (for a download: inside the repo's cache folder); every file read must be a regular
file. An archive yields only files, folders and hard links to its own files, written without
following any link, within ``ExtractLimits`` (size, ratio, member count).
"""

from __future__ import annotations

import filecmp
import hashlib
import json
import os
import stat
import sys
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from tqdm import tqdm

from benchmark._files import replacing_dir, sha256_file
from benchmark.errors import SourceError, SuiteError
from benchmark.paths import data_home
from benchmark.suites.sources.archives import (  # noqa: F401 - tests use them via hub
    ExtractionLimitError,
    ExtractLimits,
    extract,
    is_archive,
)
from benchmark.suites.sources.common import file_kind
from benchmark.suites.sources.downloads import download_file

UPSTREAM_FILE = ".upstream.json"
_HEX = frozenset("0123456789abcdef")


class UnpinnedRevisionWarning(UserWarning):
    """A suite reads a hub repo at a moving branch head instead of a pinned commit."""


@dataclass(frozen=True)
class RepoSpec:
    """One upstream source: a hub dataset repo (the suite's own, ``subdir == ""``, or an extra
    one), or a single file at ``url`` (then ``allow_patterns`` is its file name, ``subdir``
    the folder it is shown in, and ``sha256`` its pinned content hash)."""

    repo_id: str | None
    revision: str | None
    allow_patterns: tuple[str, ...]
    subdir: str = ""
    url: str | None = None
    sha256: str | None = None

    @property
    def label(self) -> str:
        """How messages name this source."""
        return self.repo_id or self.url or "the suite's files"


@dataclass(frozen=True)
class Fetched:
    """A repo's files on this machine: ``root / path`` for each relative ``path``, which
    maps to the file's real path (links resolved; see ``_walk``)."""

    spec: RepoSpec
    root: Path
    files: dict[str, Path]
    origin: str  # "hub" or "mirror"
    resolved_revision: str | None


# --------------------------------------------------------------------------- specs


def _is_sha(value: object, length: int = 40) -> bool:
    return isinstance(value, str) and len(value) == length and set(value) <= _HEX


def _relative_folder(value: object) -> PurePosixPath | None:
    """``value`` as a relative posix path without ``.``, ``..`` or hidden parts, else None."""
    if not isinstance(value, str) or not value or value.startswith("/") or "\\" in value:
        return None
    path = PurePosixPath(value)
    if any(p in ("..", ".") or p.startswith(".") for p in path.parts):
        return None
    return path


def _extra_spec(index: int, entry: object) -> RepoSpec:
    where = f"source.options.extra_repos[{index}]"
    if not isinstance(entry, dict):
        raise SuiteError(f"{where}: expected a mapping with repo_id, revision, subdir")
    unknown = sorted(set(entry) - {"repo_id", "revision", "allow_patterns", "subdir"})
    if unknown:
        raise SuiteError(f"{where}: unknown key(s) {', '.join(unknown)}")
    repo_id, revision, subdir = entry.get("repo_id"), entry.get("revision"), entry.get("subdir")
    patterns = entry.get("allow_patterns") or []
    if not isinstance(repo_id, str) or "/" not in repo_id:
        raise SuiteError(f"{where}.repo_id: expected a hub id like org/name, got {repo_id!r}")
    if revision is not None and not _is_sha(revision):
        raise SuiteError(f"{where}.revision: must be a full 40-character lowercase hex sha")
    parts = PurePosixPath(subdir).parts if isinstance(subdir, str) else ()
    if not parts or subdir.startswith("/") or any(p in ("..", ".") for p in parts):
        raise SuiteError(f"{where}.subdir: expected a relative folder name, got {subdir!r}")
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        raise SuiteError(f"{where}.allow_patterns: expected a list of glob patterns")
    return RepoSpec(repo_id, revision, tuple(patterns), PurePosixPath(subdir).as_posix())


def _file_spec(index: int, entry: object) -> RepoSpec:
    where = f"source.options.extra_files[{index}]"
    if not isinstance(entry, dict):
        raise SuiteError(f"{where}: expected a mapping with url, sha256, path")
    unknown = sorted(set(entry) - {"url", "sha256", "path"})
    if unknown:
        raise SuiteError(f"{where}: unknown key(s) {', '.join(unknown)}")
    url, sha256, path = entry.get("url"), entry.get("sha256"), entry.get("path")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise SuiteError(f"{where}.url: expected an https:// address, got {url!r}")
    if sha256 is not None and not _is_sha(sha256, 64):
        raise SuiteError(f"{where}.sha256: must be 64 lowercase hex characters, or null")
    shown = _relative_folder(path)
    if shown is None or len(shown.parts) < 2:
        raise SuiteError(
            f"{where}.path: expected where the file goes in the raw folder, as folder/name "
            f"(a relative path with at least one folder), got {path!r}"
        )
    return RepoSpec(None, None, (shown.name,), shown.parent.as_posix(), url, sha256)


def _entries(source: Any, key: str) -> list[Any]:
    entries = source.options.get(key) or []
    if not isinstance(entries, list):
        raise SuiteError(f"source.options.{key}: expected a list")
    return entries


def has_upstream(source: Any) -> bool:
    """Whether a suite reads upstream files (a hub repo, extra repos or extra files)."""
    options = source.options
    return bool(source.repo_id or options.get("extra_repos") or options.get("extra_files"))


def repo_specs(source: Any) -> list[RepoSpec]:
    """The suite's own repo, its extra repos and its extra files, in that order.

    The own repo is left out only when the suite names none but has other sources (a suite
    assembled from several hub datasets, such as ``routing``).
    """
    specs = [_extra_spec(i, e) for i, e in enumerate(_entries(source, "extra_repos"))]
    specs += [_file_spec(i, e) for i, e in enumerate(_entries(source, "extra_files"))]
    if source.repo_id is not None or not specs:
        specs.insert(0, RepoSpec(source.repo_id, source.revision, tuple(source.allow_patterns)))
    folders = [s.subdir for s in specs if s.subdir]
    for folder in folders:
        nested = [f for f in folders if f != folder and f.startswith(f"{folder}/")]
        if folders.count(folder) > 1 or nested:
            raise SuiteError(
                f"source.options: two extra sources share the folder {folder!r}; give each "
                "extra repo and extra file a folder of its own"
            )
    return specs


# --------------------------------------------------------------------------- fetching


def _rule(where: str) -> str:
    return (
        f"a {where} may hold only regular files, folders and symbolic links to them inside the "
        f"{where}"
    )


def _follow(path: Path, shown: Path, inside: Path, where: str) -> tuple[Path, os.stat_result]:
    """Where a symbolic link leads, and what is there; SourceError unless it is inside.

    ``realpath(strict=True)`` fails where a chain of links outgrows PATH_MAX (instead of
    stopping, as ``strict=False`` does), and the kernel must reach the very same file.
    """
    try:
        real = Path(os.path.realpath(path, strict=True))
        info = os.lstat(real)
        same = os.path.samestat(info, os.stat(path))
    except OSError as exc:
        raise SourceError(
            f"{shown}: a symbolic link that cannot be followed ({exc.strerror}); {_rule(where)}"
        ) from None
    if not same or not real.is_relative_to(inside):
        raise SourceError(
            f"{shown}: a symbolic link to {real}, outside the {where} ({inside}); {_rule(where)}"
        )
    return real, info


def _walk(
    root: Path,
    patterns: tuple[str, ...],
    skip: Iterable[str] = (),
    *,
    inside: Path,
    where: str,
) -> dict[str, Path]:
    """The files under ``root`` matching the allow patterns: relative posix path → real path.

    Upstream files are untrusted: a symbolic link is followed only where it resolves inside
    ``inside`` (the mirror; for a download, the repo's cache folder, where snapshot files link
    into ``blobs/``), so no folder is entered through a link leading out; and each file read
    must be a regular file (a FIFO blocks, a device never ends). ``where`` names ``inside``
    in messages. Hidden files and folders are skipped; a folder reached twice is walked once.
    """
    from huggingface_hub.utils import filter_repo_objects

    skipped = {PurePosixPath(s).as_posix() for s in skip}
    entries: dict[str, os.DirEntry[str]] = {}
    folders = [("", _follow(root, root, inside, where)[0])]
    seen: set[Path] = set()
    while folders:
        rel, real = folders.pop()
        if real in seen:
            continue
        seen.add(real)
        with os.scandir(real) as scan:
            for entry in scan:
                child = f"{rel}/{entry.name}" if rel else entry.name
                if entry.name.startswith(".") or child in skipped:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    folders.append((child, Path(entry.path)))
                elif entry.is_symlink() and entry.is_dir():  # a linked folder: inside only
                    target, _ = _follow(Path(entry.path), root / child, inside, where)
                    folders.append((child, target))
                else:
                    entries[child] = entry
    found: dict[str, Path] = {}
    for rel in sorted(filter_repo_objects(list(entries), allow_patterns=list(patterns) or None)):
        entry = entries[rel]
        if entry.is_file(follow_symlinks=False):
            found[rel] = Path(entry.path)
            continue
        if entry.is_symlink():
            real, info = _follow(Path(entry.path), root / rel, inside, where)
        else:
            real, info = Path(entry.path), entry.stat(follow_symlinks=False)
        if not stat.S_ISREG(info.st_mode):
            raise SourceError(
                f"{root / rel}: is a {file_kind(info.st_mode)}, not a regular file; {_rule(where)}"
            )
        found[rel] = real
    return found


def _from_mirror(spec: RepoSpec, from_dir: Path, skip: Iterable[str]) -> Fetched:
    root = from_dir / spec.subdir if spec.subdir else from_dir
    if spec.url is not None:
        expected = root / spec.allow_patterns[0]
        if not os.path.lexists(expected):
            raise SourceError(
                f"{expected}: file not found in the mirror; put the file published at "
                f"{spec.url} there (extra files live at DIR/<path> of the mirror)"
            )
    if not root.is_dir():
        raise SourceError(
            f"{root}: mirror folder not found; expected the files of {spec.label} there "
            f"(extra repos live in DIR/<subdir> of the mirror)"
        )
    inside = Path(os.path.realpath(from_dir, strict=True))
    files = _walk(root, spec.allow_patterns, skip, inside=inside, where="mirror")
    if spec.url is not None:
        files = {name: files[name] for name in spec.allow_patterns}  # nothing else there
    if not files:
        raise SourceError(
            f"{root}: no file matches allow_patterns {list(spec.allow_patterns)} of {spec.label}"
        )
    return Fetched(spec, root, files, "mirror", spec.revision)


def _from_url(spec: RepoSpec, home: Path) -> Fetched:
    assert spec.url is not None
    name = spec.allow_patterns[0]
    if spec.sha256 is None:
        warnings.warn(
            f"{spec.url}: no pinned sha256; downloading whatever the address serves today. "
            "Pin the sha256 in the suite YAML for reproducible data.",
            UnpinnedRevisionWarning,
            stacklevel=3,
        )
    path, digest = download_file(
        spec.url, name, spec.sha256, home / "cache" / "downloads", mirror_hint=spec.subdir
    )
    if spec.sha256 is None:
        print(f"warning: {spec.url} is not pinned; its sha256 is {digest}", file=sys.stderr)
    return Fetched(spec, path.parent, {name: path}, "url", digest)


def _from_hub(spec: RepoSpec) -> Fetched:
    from huggingface_hub import snapshot_download

    if spec.revision is None:
        warnings.warn(
            f"{spec.repo_id}: no pinned revision; downloading the current head of its default "
            "branch. Pin a 40-character commit in the suite YAML for reproducible data.",
            UnpinnedRevisionWarning,
            stacklevel=3,
        )
    try:
        path = snapshot_download(
            spec.repo_id,
            repo_type="dataset",
            revision=spec.revision,
            allow_patterns=list(spec.allow_patterns) or None,
        )
    except Exception as exc:  # the hub raises many types; report one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise SourceError(
            f"cannot download {spec.repo_id}@{spec.revision or 'main'}: "
            f"{type(exc).__name__}: {first} (or prepare from a local mirror with --from DIR)"
        ) from None
    root = Path(path)
    resolved = root.name if _is_sha(root.name) else spec.revision
    if spec.revision is None:
        print(
            f"warning: {spec.repo_id} is not pinned; it resolved to revision {resolved}",
            file=sys.stderr,
        )
    repo = root.parents[1] if root.parent.name == "snapshots" else root  # blobs/ is there
    inside = Path(os.path.realpath(repo, strict=True))
    files = _walk(root, spec.allow_patterns, inside=inside, where="download")
    if not files:
        raise SourceError(
            f"{root}: the download of {spec.repo_id} holds no file matching allow_patterns "
            f"{list(spec.allow_patterns)}"
        )
    return Fetched(spec, root, files, "hub", resolved)


def fetch(specs: list[RepoSpec], from_dir: Path | None, home: Path) -> list[Fetched]:
    """Every source's files, from the hub and URLs or from the mirror ``from_dir``."""
    if from_dir is None:
        for spec in specs:
            if spec.repo_id is None and spec.url is None:
                raise SourceError(
                    "the suite names no hub repo (source.repo_id); prepare it from a local "
                    "mirror with --from DIR"
                )
        return [_from_url(s, home) if s.url else _from_hub(s) for s in specs]
    from_dir = Path(from_dir)
    if not from_dir.is_dir():
        raise SourceError(f"{from_dir}: mirror folder not found")
    extras = [s.subdir for s in specs if s.subdir]
    return [_from_mirror(s, from_dir, () if s.subdir else extras) for s in specs]


# --------------------------------------------------------------------------- hashing


class _HashMemo:
    """sha256 of raw files, remembered by (real path, size, mtime) across prepares."""

    def __init__(self, home: Path) -> None:
        self.path = home / "cache" / "raw-hashes.json"
        try:
            self.data: dict[str, str] = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.data = {}
        self.dirty = False

    @staticmethod
    def _key(path: Path) -> str:
        real = path.resolve()
        info = real.stat()
        return f"{real}|{info.st_size}|{info.st_mtime_ns}"

    def known(self, path: Path) -> str | None:
        return self.data.get(self._key(path))

    def sha256(self, path: Path, bar: tqdm | None = None) -> str:
        key = self._key(path)
        if key not in self.data:
            self.data[key] = sha256_file(path)
            self.dirty = True
        if bar is not None:
            bar.update(path.stat().st_size)
        return self.data[key]

    def save(self) -> None:
        if self.dirty:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.partial")
            tmp.write_text(json.dumps(self.data), encoding="utf-8")
            os.replace(tmp, self.path)


def _hash_all(fetched: list[Fetched], memo: _HashMemo) -> dict[str, str]:
    paths = [(f, rel) for f in fetched for rel in f.files]
    todo = sum(f.files[rel].stat().st_size for f, rel in paths if memo.known(f.files[rel]) is None)
    with tqdm(
        total=todo,
        desc="sha256 raw files",
        unit="B",
        unit_scale=True,
        file=sys.stderr,
        disable=None,
        leave=False,
    ) as bar:
        hashes = {
            _view_path(f, rel): memo.sha256(
                f.files[rel], bar if memo.known(f.files[rel]) is None else None
            )
            for f, rel in paths
        }
    memo.save()
    return dict(sorted(hashes.items()))


def _view_path(fetched: Fetched, rel: str) -> str:
    return f"{fetched.spec.subdir}/{rel}" if fetched.spec.subdir else rel


# --------------------------------------------------------------------------- the view


def _real_dir(view: Path, rel: PurePosixPath) -> Path:
    """``view/rel`` as a real directory: created, or unfolded where it is a symlink."""
    current = view
    for part in rel.parts:
        current = current / part
        if current.is_symlink():
            _unfold(current)
        elif not current.exists():
            current.mkdir()
        elif not current.is_dir():
            raise SourceError(f"{current}: is a file in one place and a folder in another")
    return current


def _unfold(link: Path) -> None:
    """Replace a symlinked directory by a real one holding symlinks to its entries."""
    real = Path(os.readlink(link))
    if not real.is_dir():
        raise SourceError(f"{real}: is a file in one place and a folder in another")
    link.unlink()
    link.mkdir()
    for entry in sorted(os.scandir(real), key=lambda e: e.name):
        os.symlink(entry.path, link / entry.name)


def _mount(src: Path, dst: Path, origin: str) -> None:
    """Show every entry of ``src`` in the real directory ``dst``, merging folders.

    A file already there with the same bytes is fine; different bytes are an error.
    """
    for entry in sorted(os.scandir(src), key=lambda e: e.name):
        target = dst / entry.name
        if not os.path.lexists(target):
            os.symlink(entry.path, target)
        elif entry.is_dir() and target.is_dir():
            if target.is_symlink():
                _unfold(target)
            _mount(Path(entry.path), target, origin)
        elif not (entry.is_file() and target.is_file() and filecmp.cmp(entry.path, target, False)):
            raise SourceError(
                f"{origin}: {entry.name!r} would overwrite {target.resolve()} (the same path "
                "is in two archives, or in an archive and next to it)"
            )


def _build_view(view: Path, fetched: list[Fetched], hashes: dict[str, str], home: Path) -> None:
    cache = home / "cache" / "extracted"
    archives: list[tuple[Fetched, str]] = []
    made: set[PurePosixPath] = set()
    for f in fetched:
        for rel in f.files:
            if is_archive(rel):
                archives.append((f, rel))
                continue
            path = PurePosixPath(_view_path(f, rel))
            if path.parent not in made:
                _real_dir(view, path.parent)
                made.add(path.parent)
            os.symlink(f.files[rel], view / path)
    for f, rel in archives:
        source = f.root / rel
        folder = extract(source, hashes[_view_path(f, rel)], cache, real=f.files[rel])
        _mount(folder, _real_dir(view, PurePosixPath(_view_path(f, rel)).parent), str(source))


def _view_dir(fetched: list[Fetched], home: Path) -> Path:
    key = json.dumps(
        [[asdict(f.spec), str(f.root), f.origin] for f in fetched], sort_keys=True
    ).encode()
    names = [f.spec.repo_id for f in fetched if f.spec.repo_id] or ["mirror"]
    label = names[0].replace("/", "--")
    return home / "raw" / f"{label}-{hashlib.sha256(key).hexdigest()[:12]}"


def upstream(raw_dir: Path | None) -> list[dict[str, Any]]:
    """Which repos (and resolved revisions) a materialised raw directory was built from."""
    if raw_dir is None:
        return []
    path = Path(raw_dir) / UPSTREAM_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []


def _describe(fetched: list[Fetched], hashes: dict[str, str]) -> list[dict[str, Any]]:
    described: list[dict[str, Any]] = []
    for f in fetched:
        if f.spec.url is not None:
            path = _view_path(f, f.spec.allow_patterns[0])
            described.append(
                {
                    "url": f.spec.url,
                    "sha256": f.spec.sha256,
                    "resolved_sha256": hashes[path],
                    "path": path,
                    "origin": f.origin,
                }
            )
            continue
        described.append(
            {
                "repo_id": f.spec.repo_id,
                "revision": f.spec.revision,
                "resolved_revision": f.resolved_revision,
                "subdir": f.spec.subdir,
                "origin": f.origin,
                "files": len(f.files),
            }
        )
    return described


def _check_pins(fetched: list[Fetched], hashes: dict[str, str]) -> None:
    """A mirror's copy of a pinned extra file must be the pinned file."""
    for f in fetched:
        if f.spec.url is None or f.spec.sha256 is None:
            continue
        path = _view_path(f, f.spec.allow_patterns[0])
        if hashes[path] != f.spec.sha256:
            raise SourceError(
                f"{f.root / f.spec.allow_patterns[0]}: sha256 {hashes[path]}, but the suite pins "
                f"{f.spec.sha256} for {f.spec.url} (a different file than the one published)"
            )


def materialise(
    source: Any, *, from_dir: Path | None, home: Path | None = None
) -> tuple[Path, dict[str, str]]:
    """Fetch (or read from a mirror) a suite's upstream files; return (raw_dir, raw_files).

    ``raw_files`` maps each raw file's path in ``raw_dir`` to its sha256.
    """
    home = Path(home) if home is not None else data_home()
    fetched = fetch(repo_specs(source), from_dir, home)
    hashes = _hash_all(fetched, _HashMemo(home))
    _check_pins(fetched, hashes)
    view = _view_dir(fetched, home)
    with replacing_dir(view) as tmp:
        _build_view(tmp, fetched, hashes, home)
        (tmp / UPSTREAM_FILE).write_text(json.dumps(_describe(fetched, hashes), indent=2) + "\n")
    return view, hashes


def iter_view(raw_dir: Path, pattern: str) -> Iterator[Path]:
    """Files of the view matching a glob, sorted (symlinks followed)."""
    yield from sorted(p for p in Path(raw_dir).glob(pattern) if p.is_file())
