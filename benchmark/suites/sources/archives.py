"""Archives from untrusted upstreams (``.tar``, ``.tar.gz``/``.tgz``, ``.zip``), extracted once
per content into ``<data home>/cache/extracted/<archive sha256>/``.

An archive yields only files, folders and hard links to its own earlier files, written
without following any link: each folder is opened relative to its parent with
``O_NOFOLLOW``, each file created with ``O_EXCL|O_NOFOLLOW``, and no symbolic link is ever
created, so no link trick (a chain longer than ``PATH_MAX`` included, which defeats
``realpath``-based checks and tarfile's ``data`` filter) can write outside the target. The
decompressed bytes are metered as they stream, within ``ExtractLimits`` (size, ratio, member
count, free disk); a refused or broken archive leaves nothing behind.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import lzma
import math
import os
import posixpath
import shutil
import stat
import sys
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tqdm import tqdm

from benchmark.errors import SourceError

ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".zip")
_CHUNK = 1 << 20


def is_archive(name: str) -> bool:
    return name.lower().endswith(ARCHIVE_SUFFIXES)


class ExtractionLimitError(SourceError):
    """An archive expands beyond a limit: an archive bomb, or a limit set too low."""


LIMIT_ENV = "MLLMCL_BENCH_EXTRACT_MAX_"  # + BYTES, RATIO, MEMBERS
RATIO_FLOOR = 100 << 20  # any archive may expand to 100 MiB, whatever its ratio


@dataclass(frozen=True)
class ExtractLimits:
    """How far one archive may expand. The defaults never refuse a real dataset archive
    (MLLM-CL's are tens of GB, mostly images that barely compress, and JSON compresses about
    10×) yet stop a bomb after at most 200× its size. Each is raised with an environment
    variable, ``MLLMCL_BENCH_EXTRACT_MAX_BYTES``, ``_RATIO`` or ``_MEMBERS``."""

    max_bytes: int = 200 << 30  # uncompressed bytes in all
    max_ratio: float = 200.0  # uncompressed bytes per archive byte (beyond RATIO_FLOOR)
    max_members: int = 5_000_000

    @classmethod
    def from_env(cls) -> ExtractLimits:
        values: dict[str, Any] = {}
        for field in ("max_bytes", "max_ratio", "max_members"):
            name = LIMIT_ENV + field.removeprefix("max_").upper()
            text = os.environ.get(name)
            if text is None:
                continue
            try:
                value = float(text)
            except ValueError:
                value = math.nan
            if not (value > 0 and math.isfinite(value)):
                raise SourceError(f"{name}={text}: expected a positive number")
            values[field] = value if field == "max_ratio" else int(value)
        return cls(**values)


class _Budget:
    """What one extraction may still write; ExtractionLimitError as soon as it is spent.

    Bytes are counted as they stream out of the decompressor, so a bomb stops early."""

    def __init__(self, archive: Path, size: int, limits: ExtractLimits, free: int) -> None:
        by_ratio = max(RATIO_FLOOR, int(limits.max_ratio * size))
        self.left, self.limit = min(
            (
                limits.max_bytes,
                f"{limits.max_bytes} bytes (the limit; set {LIMIT_ENV}BYTES to raise it)",
            ),
            (
                by_ratio,
                f"{by_ratio} bytes, {limits.max_ratio:g} times its size (the limit that stops "
                f"archive bombs; set {LIMIT_ENV}RATIO to raise it)",
            ),
            (free, f"the {free} bytes free on the disk of the data home"),
        )
        self.archive, self.limits, self.members = archive, limits, 0

    def spend(self, n: int) -> None:
        self.left -= n
        if self.left < 0:
            raise ExtractionLimitError(
                f"{self.archive}: expands to more than {self.limit}; refusing to extract it"
            )

    def member(self, count: int = 1) -> None:
        self.members += count
        if self.members > self.limits.max_members:
            raise ExtractionLimitError(
                f"{self.archive}: holds more than {self.limits.max_members} members (the limit; "
                f"set {LIMIT_ENV}MEMBERS to raise it); refusing to extract it"
            )


class _Metered:
    """A reader that spends from the budget every byte it returns."""

    def __init__(self, reader: IO[bytes], budget: _Budget) -> None:
        self.reader, self.budget = reader, budget

    def read(self, size: int) -> bytes:
        data = self.reader.read(size)
        self.budget.spend(len(data))
        return data


_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
_REFUSE = "refusing to extract this archive"


class _Writer:
    """Makes an archive's folders and files under a fresh folder without following any link.

    Folders are opened one by one from the top, relative to their parent, with
    ``O_NOFOLLOW``; files are created with ``O_EXCL | O_NOFOLLOW``; no symbolic link is ever
    made. So no lexical check has to be trusted (CVE-2025-4517: a link chain beyond PATH_MAX
    made ``realpath`` stop resolving while the kernel followed it out).
    """

    def __init__(self, root: Path, archive: Path) -> None:
        self.root, self.archive = root, archive
        self.fd = os.open(root, _DIR)

    def close(self) -> None:
        os.close(self.fd)

    def parts(self, name: str) -> list[str]:
        """A member's path as names of folders and file; SourceError if it climbs out."""
        text = name.replace("\\", "/")
        parts = [p for p in text.split("/") if p not in ("", ".")]
        if text.startswith("/") or ".." in parts or (parts and ":" in parts[0]):
            raise SourceError(
                f"{self.archive}: member {name!r} would be written outside the extraction "
                f"folder; {_REFUSE}"
            )
        return parts

    def _folder(self, parts: list[str], make: bool = True) -> int:
        """A descriptor of the folder ``parts`` (made if missing), reached without links."""
        fd = os.dup(self.fd)
        try:
            for part in parts:
                if make:
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(part, 0o755, dir_fd=fd)
                fd, parent = os.open(part, _DIR, dir_fd=fd), fd
                os.close(parent)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _leaf(self, name: str) -> tuple[list[str], int]:
        """The parts of a file member and a descriptor of its (made) folder, emptied of any
        earlier member of the same name (a later member wins, as with tar)."""
        parts = self.parts(name)
        if not parts:
            raise SourceError(f"{self.archive}: member {name!r} has no file name; {_REFUSE}")
        fd = self._folder(parts[:-1])
        try:
            os.unlink(parts[-1], dir_fd=fd)
        except FileNotFoundError:
            pass
        except BaseException:
            os.close(fd)
            raise
        return parts, fd

    def folder(self, name: str) -> None:
        os.close(self._folder(self.parts(name)))

    def file(self, name: str, source: IO[bytes]) -> None:
        parts, folder = self._leaf(name)
        try:
            fd = os.open(parts[-1], _NEW_FILE, 0o644, dir_fd=folder)
        finally:
            os.close(folder)
        with open(fd, "wb") as out:
            while chunk := source.read(_CHUNK):
                out.write(chunk)
            written = os.fstat(fd)
        # belt and braces: the file written is the one its name reaches, with no link between
        if not os.path.samestat(written, os.lstat(self.root.joinpath(*parts))):
            raise SourceError(f"{self.archive}: member {name!r} went astray; {_REFUSE}")

    def _earlier_file(self, parts: list[str]) -> int | None:
        """A descriptor of the folder holding ``parts`` if that is a file extracted already."""
        try:
            fd = self._folder(parts[:-1], make=False)
        except OSError:
            return None
        with contextlib.suppress(OSError):
            if parts and stat.S_ISREG(os.lstat(parts[-1], dir_fd=fd).st_mode):
                return fd
        os.close(fd)
        return None

    def hard_link(self, name: str, target: str) -> None:
        """A hard link to a file extracted before it: the only kind of link allowed."""
        try:
            target_parts = self.parts(target)
        except SourceError:
            raise SourceError(
                f"{self.archive}: member {name!r} links to {target!r} outside the extraction "
                f"folder; {_REFUSE}"
            ) from None
        source = self._earlier_file(target_parts)
        if source is None:
            raise SourceError(
                f"{self.archive}: member {name!r} is a hard link to {target!r}, which is not a "
                f"file extracted before it; {_REFUSE}"
            )
        try:
            parts, folder = self._leaf(name)
            try:
                os.link(
                    target_parts[-1],
                    parts[-1],
                    src_dir_fd=source,
                    dst_dir_fd=folder,
                    follow_symlinks=False,
                )
            finally:
                os.close(folder)
        finally:
            os.close(source)


def _symlink_error(archive: Path, name: str, target: str) -> SourceError:
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(name), target))
    if posixpath.isabs(target) or resolved == ".." or resolved.startswith("../"):
        return SourceError(
            f"{archive}: member {name!r} links to {target!r} outside the extraction folder; "
            f"{_REFUSE}"
        )
    return SourceError(
        f"{archive}: member {name!r} is a symbolic link (to {target!r}); an archive may hold "
        f"only files, folders and hard links to its own files; {_REFUSE}"
    )


_COMPRESSED = (  # what ``tarfile.open(mode="r|*")`` detects, decompressed here to be metered
    (b"\x1f\x8b", lambda f: gzip.GzipFile(fileobj=f, mode="rb")),
    (b"BZh", bz2.BZ2File),
    (b"\xfd7zXZ\x00", lzma.LZMAFile),
)


def _extract_tar(archive: Path, reader: IO[bytes], out: _Writer, budget: _Budget) -> None:
    head = reader.read(6)
    reader.seek(0)
    for magic, opener in _COMPRESSED:
        if head.startswith(magic):
            reader = opener(reader)
    with tarfile.open(fileobj=_Metered(reader, budget), mode="r|") as tar:
        while (member := tar.next()) is not None:
            tar.members.clear()  # the stream keeps every member otherwise: memory grows
            budget.member()
            if member.isdir():
                out.folder(member.name)
            elif member.isreg():
                out.file(member.name, tar.extractfile(member))
            elif member.islnk():
                out.hard_link(member.name, member.linkname)
            elif member.issym():
                raise _symlink_error(archive, member.name, member.linkname)
            else:
                raise SourceError(
                    f"{archive}: member {member.name!r} is a device, fifo or other special "
                    f"file; {_REFUSE}"
                )


def _extract_zip(archive: Path, reader: IO[bytes], out: _Writer, budget: _Budget) -> None:
    with zipfile.ZipFile(reader) as zf:
        members = zf.infolist()
        budget.member(len(members))
        for info in members:
            if stat.S_ISLNK(info.external_attr >> 16):
                raise SourceError(
                    f"{archive}: member {info.filename!r} is a symbolic link; {_REFUSE}"
                )
            if info.is_dir():
                out.folder(info.filename)
            else:
                with zf.open(info) as source:
                    out.file(info.filename, _Metered(source, budget))


# what a corrupt, truncated or unsupported archive raises while it is read
_UNREADABLE = (
    tarfile.TarError,
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,  # a zip compression method Python lacks
    RuntimeError,  # an encrypted zip member
)


def extract(
    archive: Path,
    sha256: str,
    cache: Path,
    limits: ExtractLimits | None = None,
    *,
    real: Path | None = None,
) -> Path:
    """Extract an archive once per content into ``cache/<sha256>/``; return that folder.

    Only files, folders and hard links to earlier files come out, written without following
    any link; a member that is absolute, contains ``..``, is a symbolic link or a device is
    refused, and so is an archive beyond ``limits`` (default: from the environment). Nothing
    is left behind when extraction fails. ``real`` is the file to read when ``archive`` (the
    name in messages) reaches it through links.
    """
    dest = cache / sha256
    if dest.is_dir():
        return dest
    limits = limits if limits is not None else ExtractLimits.from_env()
    tmp = cache / f".{sha256}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    extract_one = _extract_zip if archive.name.lower().endswith(".zip") else _extract_tar
    try:
        out = _Writer(tmp, archive)
        try:
            with open(real or archive, "rb") as raw:
                size = os.fstat(raw.fileno()).st_size
                budget = _Budget(archive, size, limits, shutil.disk_usage(tmp).free)
                with tqdm.wrapattr(
                    raw,
                    "read",
                    total=size,
                    desc=f"extract {archive.name}",
                    file=sys.stderr,
                    disable=None,
                    leave=False,
                ) as reader:
                    extract_one(archive, reader, out, budget)
        finally:
            out.close()
    except _UNREADABLE as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise SourceError(f"{archive}: cannot extract ({type(exc).__name__}: {exc})") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        os.replace(tmp, dest)
    except OSError:  # another process finished the same archive first
        shutil.rmtree(tmp, ignore_errors=True)
    return dest
