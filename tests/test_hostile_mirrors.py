"""Hostile mirrors and archives (issue 20): what ``tasks prepare --from DIR`` (or a hub
download) may read, extract and place, and the one-line errors for everything else.

Every input is built here, in temporary folders: a tar whose symlink chain outgrows PATH_MAX
(CVE-2025-4517), links out of a mirror, FIFOs, archive bombs, a PNG decompression bomb and
JSON nested 100,000 deep. Tests that would hang on a harness without the fix carry a timeout.
"""

from __future__ import annotations

import io
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import zipfile
import zlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from mirrors import FakeHub, domain_mirror, png_bytes, prepared

from benchmark.errors import SourceError
from benchmark.suites.prepare import image_pixels_sha256, prepare_suite
from benchmark.suites.registry import load_suite
from benchmark.suites.sources import common, hub

SHA = "0123456789abcdef0123456789abcdef01234567"
RS_TEST = "Domain_data/RS/test.json"
MED = "Domain_data/Medical/data"  # loose images (no archive) in the Domain mirror
MED_IMAGE = f"{MED}/images/m0.png"


@pytest.fixture
def mirror(tmp_path: Path) -> tuple[Path, dict]:
    root = tmp_path / "mirror"
    return root, domain_mirror(root)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder next to the mirror, standing for the rest of the file system."""
    folder = tmp_path / "outside"
    folder.mkdir()
    return folder


def _prepare_error(mirror: Path) -> str:
    with pytest.raises(SourceError) as info:
        prepare_suite(load_suite("mllm-cl-domain"), from_dir=mirror)
    message = str(info.value)
    assert "\n" not in message
    return message


def _leftovers(home: Path) -> list[str]:
    """Partial extractions or views left in the data home."""
    return sorted(p.name for p in home.rglob("*") if ".partial" in p.name)


# --------------------------------------------------------------------------- archive builders


def _tar(path: Path, members: list[tuple[str, str, Any]], mode: str = "w") -> None:
    """``(name, kind, data or link target)`` members: kind is ``file``, ``dir``, ``sym``,
    ``hard`` or ``fifo``."""
    kinds = {
        "file": tarfile.REGTYPE,
        "dir": tarfile.DIRTYPE,
        "sym": tarfile.SYMTYPE,
        "hard": tarfile.LNKTYPE,
        "fifo": tarfile.FIFOTYPE,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, mode) as tar:
        for name, kind, payload in members:
            info = tarfile.TarInfo(name)
            info.type = kinds[kind]
            if kind in ("sym", "hard"):
                info.linkname = payload
                tar.addfile(info)
            elif kind == "file":
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
            else:
                tar.addfile(info)


def path_max_chain_tar(path: Path, escape_to: str, dest: int) -> None:
    """CVE-2025-4517: symlinks whose expansion outgrows PATH_MAX, so that a non-strict
    ``realpath`` stops resolving and every lexical check sees ``escape/`` inside the folder,
    while the kernel follows ``escape`` to ``escape_to`` (relative to the folder). ``dest``:
    the length of the folder's path, which the folder names are sized against."""
    steps, prefix = "abcdefghijklmnop", ""
    comp = "d" * ((os.pathconf("/", "PC_PATH_MAX") - dest - 8) // len(steps) - 1)
    members: list[Any] = []
    for step in steps:
        members += [(prefix + comp, "dir", b""), (prefix + step, "sym", comp)]
        prefix += comp + "/"
    long_link = "/".join(steps) + "/" + "l" * 254
    members += [
        (long_link, "sym", "/".join([".."] * len(steps))),  # back to the top: never expanded
        ("escape", "sym", f"{long_link}/{escape_to}"),
        ("escape/pwned", "file", b"written outside\n"),
    ]
    _tar(path, members)


def _partial_length(cache: Path) -> int:
    """The length of the path ``hub.extract`` extracts into: cache/.<sha256>.partial-<pid>."""
    return len(str(cache / f".{'0' * 64}.partial-{os.getpid()}"))


def _deflate_zeros(size: int, head: bytes = b"", tail: bytes = b"") -> tuple[bytes, int, int]:
    """Raw deflate of ``head + size zero bytes + tail`` built in well under a second: one
    compressed MiB of zeros (full flush: byte-aligned, no history) repeated. Returns the
    compressed bytes, the CRC-32 and the length of the uncompressed data."""
    mib = bytes(1 << 20)
    assert size % len(mib) == 0
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    parts = [(head, 1), (mib, size // len(mib)), (tail, 1)]
    out, crc = [], 0
    for chunk, repeat in parts:
        out.append((comp.compress(chunk) + comp.flush(zlib.Z_FULL_FLUSH)) * repeat)
        for _ in range(repeat):
            crc = zlib.crc32(chunk, crc)
    out.append(comp.flush())
    return b"".join(out), crc, len(head) + size + len(tail)


def zip_bomb(path: Path, size: int) -> None:
    """A zip holding one member of ``size`` zero bytes (1 GiB → about 1 MB)."""
    data, crc, length = _deflate_zeros(size)
    name = b"zeros.bin"
    local = struct.pack("<IHHHHHIII", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(data), length)
    local += struct.pack("<HH", len(name), 0) + name
    fields = (20, 20, 0, 8, 0, 0x21, crc, len(data), length, len(name), 0, 0, 0, 0, 0, 0)
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, *fields) + name
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(local) + len(data), 0)
    path.write_bytes(local + data + central + end)


def tar_gz_bomb(path: Path, size: int) -> None:
    """A .tar.gz holding one member of ``size`` zero bytes."""
    info = tarfile.TarInfo("images/zeros.bin")
    info.size = size
    header = info.tobuf(tarfile.GNU_FORMAT)
    data, crc, length = _deflate_zeros(size, header, bytes(2 * tarfile.BLOCKSIZE))
    gzip_header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    path.write_bytes(gzip_header + data + struct.pack("<II", crc, length & 0xFFFFFFFF))


# --------------------------------------------------------------------------- 1. archives


def test_a_symlink_chain_beyond_path_max_cannot_write_outside(tmp_path: Path) -> None:
    """The tar that gets through tarfile's ``data`` filter on Python 3.11.7."""
    archive, cache, victim = tmp_path / "chain.tar", tmp_path / "cache", tmp_path / "victim"
    victim.mkdir()
    path_max_chain_tar(archive, "../../victim", _partial_length(cache))  # from cache/<partial>
    try:
        hub.extract(archive, "c" * 64, cache)
        error = ""
    except SourceError as exc:
        error = str(exc)
    assert list(victim.iterdir()) == []
    assert error.startswith(f"{archive}: member 'a' is a symbolic link (to 'ddd")
    assert list(cache.iterdir()) == []  # the partial extraction is gone


@pytest.mark.parametrize("origin", ["mirror", "hub"])
def test_a_symlink_chain_in_a_mirror_or_download_stops_prepare(
    home: Path, tmp_path: Path, mirror, origin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _ = mirror
    victim = home / "cache" / "victim"  # what ../../victim reaches from cache/extracted/<tmp>
    victim.mkdir(parents=True)
    archive = root / "Domain_data/RS/extra.tar"
    path_max_chain_tar(archive, "../../victim", _partial_length(home / "cache" / "extracted"))
    suite = load_suite("mllm-cl-domain")
    if origin == "hub":
        hub_files = FakeHub(tmp_path / "hf", {"MLLM-CL/MLLM-CL": root})
        monkeypatch.setattr("huggingface_hub.snapshot_download", hub_files)
        pinned = suite.source.model_copy(update={"revision": SHA})
        suite = suite.model_copy(update={"source": pinned})
    try:
        prepare_suite(suite, from_dir=root if origin == "mirror" else None)
        error = ""
    except SourceError as exc:
        error = str(exc)
    assert list(victim.iterdir()) == []
    assert "extra.tar: member 'a' is a symbolic link" in error and "\n" not in error
    assert _leftovers(home) == []


def test_symlink_members_are_refused_even_when_they_stay_inside(tmp_path: Path) -> None:
    archive = tmp_path / "alias.tar"
    _tar(archive, [("images/a.png", "file", png_bytes(1)), ("images/b.png", "sym", "a.png")])
    with pytest.raises(SourceError, match=r"member 'images/b\.png' is a symbolic link"):
        hub.extract(archive, "a" * 64, tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


def test_a_hard_link_to_an_earlier_file_is_kept(tmp_path: Path) -> None:
    archive = tmp_path / "hard.tar"
    _tar(
        archive,
        [
            ("images/a.png", "file", png_bytes(1)),
            ("images/copy/b.png", "hard", "images/a.png"),
            ("./images/c.png", "hard", "./images/a.png"),
        ],
    )
    folder = hub.extract(archive, "b" * 64, tmp_path / "cache")
    for name in ("images/copy/b.png", "images/c.png"):
        assert not (folder / name).is_symlink()
        assert (folder / name).read_bytes() == png_bytes(1)


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ([("images/b.png", "hard", "images/a.png")], r"hard link to 'images/a\.png', which is not"),
        ([("images", "dir", b""), ("images/b.png", "hard", "images")], "which is not a file"),
        ([("pipe", "fifo", b"")], "member 'pipe' is a device, fifo or other special file"),
    ],
    ids=["hard-link-to-nothing", "hard-link-to-a-folder", "fifo"],
)
def test_other_link_and_special_members_are_refused(
    tmp_path: Path, members: list, message: str
) -> None:
    archive = tmp_path / "odd.tar"
    _tar(archive, members)
    with pytest.raises(SourceError, match=message):
        hub.extract(archive, "d" * 64, tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


def test_zip_symlink_members_are_refused(tmp_path: Path) -> None:
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("images/link")
        info.external_attr = 0o120777 << 16  # S_IFLNK: how zip stores a symbolic link
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(SourceError, match=r"member 'images/link' is a symbolic link"):
        hub.extract(archive, "e" * 64, tmp_path / "cache")


def test_archives_still_extract_files_and_folders(tmp_path: Path) -> None:
    for name in ("ok.tar", "ok.tar.gz", "ok.zip"):
        archive = tmp_path / name
        files = {"images/a.png": png_bytes(1), "images/sub/b.png": png_bytes(2), "c.json": b"[]"}
        if name.endswith(".zip"):
            with zipfile.ZipFile(archive, "w") as zf:
                zf.mkdir("empty")
                for member, data in files.items():
                    zf.writestr(member, data)
        else:
            mode = "w:gz" if name.endswith(".gz") else "w"
            _tar(
                archive, [("empty", "dir", b"")] + [(m, "file", d) for m, d in files.items()], mode
            )
        folder = hub.extract(archive, name.replace(".", "-").ljust(64, "0"), tmp_path / "cache")
        found = [p for p in folder.rglob("*") if p.is_file()]
        assert {p.relative_to(folder).as_posix(): p.read_bytes() for p in found} == files
        assert (folder / "empty").is_dir()


# --------------------------------------------------------------------------- 2. links in a mirror


def _link_out(root: Path, outside: Path, rel: str) -> None:
    """Move ``root/rel`` outside the mirror and leave a symbolic link to it in its place."""
    moved = outside / Path(rel).name
    shutil.move(root / rel, moved)
    (root / rel).symlink_to(moved)


@pytest.mark.parametrize("rel", [RS_TEST, MED_IMAGE, MED], ids=["test.json", "image", "folder"])
def test_links_out_of_the_mirror_are_refused(home: Path, mirror, outside: Path, rel: str) -> None:
    root, _ = mirror
    _link_out(root, outside, rel)
    message = _prepare_error(root)
    assert message.startswith(f"{root / rel}: a symbolic link to {outside / Path(rel).name}")
    assert "outside the mirror" in message
    assert not (home / "suites" / "mllm-cl-domain").exists()


@pytest.mark.timeout(60)
def test_a_link_to_the_root_folder_is_not_walked(home: Path, mirror) -> None:
    root, _ = mirror
    (root / "Domain_data/everything").symlink_to("/")
    message = _prepare_error(root)  # before the fix: the walk of / runs into the timeout
    assert message.startswith(f"{root / 'Domain_data/everything'}: a symbolic link to /,")


def test_links_inside_the_mirror_are_followed(home: Path, mirror) -> None:
    root, expected = mirror
    store = root / "store"  # inside the mirror, outside the suite's allow_patterns
    store.mkdir()
    shutil.move(root / MED, store / "med")
    (root / MED).symlink_to("../../store/med")
    shutil.move(root / RS_TEST, store / "rs-test.json")
    (root / RS_TEST).symlink_to("../../store/rs-test.json")
    (root / "Domain_data/AD/again").symlink_to("../AD")  # a loop: walked once
    mirror_as_link = root.parent / "mirror-link"  # the --from folder itself may be a link
    mirror_as_link.symlink_to(root)
    prepare_suite(load_suite("mllm-cl-domain"), from_dir=mirror_as_link)
    assert prepared(home, "mllm-cl-domain") == expected


class BlobHub(FakeHub):
    """Like huggingface_hub's cache: snapshot files are relative links into ``blobs/``."""

    def __call__(self, repo_id: str, **kwargs: Any) -> str:
        snapshot = Path(super().__call__(repo_id, **kwargs))
        blobs = snapshot.parents[1] / "blobs"
        blobs.mkdir(exist_ok=True)
        for path in sorted(p for p in snapshot.rglob("*") if p.is_file()):
            blob = blobs / f"{len(list(blobs.iterdir())):08d}"
            shutil.move(path, blob)
            path.symlink_to(os.path.relpath(blob, path.parent))
        return str(snapshot)


def test_hub_snapshot_links_into_blobs_but_not_out(
    home: Path, tmp_path: Path, mirror, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, expected = mirror
    fake = BlobHub(tmp_path / "hf", {"MLLM-CL/MLLM-CL": root})
    monkeypatch.setattr("huggingface_hub.snapshot_download", fake)
    suite = load_suite("mllm-cl-domain")
    suite = suite.model_copy(update={"source": suite.source.model_copy(update={"revision": SHA})})
    prepare_suite(suite)
    assert prepared(home, "mllm-cl-domain") == expected
    # a snapshot file linking out of the repo's cache folder is refused
    snapshot = tmp_path / "hf/datasets--MLLM-CL--MLLM-CL/snapshots" / SHA
    (outside / "test.json").write_bytes((snapshot / RS_TEST).read_bytes())
    (snapshot / RS_TEST).unlink()
    (snapshot / RS_TEST).symlink_to(outside / "test.json")
    monkeypatch.setattr(
        "huggingface_hub.snapshot_download", lambda repo_id, **kwargs: str(snapshot)
    )
    with pytest.raises(SourceError, match=r"a symbolic link to .*outside the download"):
        prepare_suite(suite)


# --------------------------------------------------------------------------- 3. special files


@pytest.mark.timeout(60)
@pytest.mark.parametrize("rel", [RS_TEST, MED_IMAGE], ids=["test.json", "image"])
def test_a_fifo_in_the_mirror_is_refused(home: Path, mirror, rel: str) -> None:
    root, _ = mirror
    (root / rel).unlink()
    os.mkfifo(root / rel)
    assert _prepare_error(root) == (
        f"{root / rel}: is a FIFO, not a regular file; a mirror may hold only regular files, "
        "folders and symbolic links to them inside the mirror"
    )


@pytest.mark.timeout(60)
def test_a_link_to_dev_zero_is_refused(home: Path, mirror) -> None:
    root, _ = mirror
    (root / RS_TEST).unlink()
    (root / RS_TEST).symlink_to("/dev/zero")
    assert _prepare_error(root).startswith(f"{root / RS_TEST}: a symbolic link to /dev/zero")


@pytest.mark.timeout(60)
def test_loaders_open_only_regular_files(tmp_path: Path) -> None:
    fifo = tmp_path / "rows.json"
    os.mkfifo(fifo)
    with pytest.raises(SourceError, match=r"^raw/rows\.json: is a FIFO, not a regular file"):
        list(common.iter_rows(fifo, "raw/rows.json"))
    zero = tmp_path / "zero.json"
    zero.symlink_to("/dev/zero")
    with pytest.raises(SourceError, match=r"^raw/zero\.json: is a character device"):
        list(common.iter_rows(zero, "raw/zero.json"))


# --------------------------------------------------------------------------- 4. bombs


def test_a_zip_bomb_is_refused_early_and_cleaned_up(tmp_path: Path) -> None:
    archive = tmp_path / "bomb.zip"
    zip_bomb(archive, 1 << 30)  # 1 GiB of zeros in about 1 MB
    assert archive.stat().st_size < 2 << 20
    cache = tmp_path / "cache"
    with pytest.raises(SourceError) as info:
        hub.extract(archive, "0" * 64, cache)
    assert isinstance(info.value, hub.ExtractionLimitError)
    message = str(info.value)
    assert message.startswith(f"{archive}: expands to more than ")
    assert "MLLMCL_BENCH_EXTRACT_MAX_RATIO" in message and "\n" not in message
    assert list(cache.iterdir()) == []


def test_a_tar_gz_bomb_in_a_mirror_stops_prepare(home: Path, mirror) -> None:
    root, _ = mirror
    archive = root / "Domain_data/RS/more-images.tar.gz"
    tar_gz_bomb(archive, 1 << 30)
    message = _prepare_error(root)
    assert message.startswith(f"{archive}: expands to more than ")
    assert _leftovers(home) == []
    assert sum(p.stat().st_size for p in home.rglob("*") if p.is_file()) < 200 << 20


def test_member_count_and_size_limits_can_be_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "many.tar"
    _tar(archive, [(f"images/{i}.png", "file", png_bytes(i)) for i in range(5)])
    monkeypatch.setenv("MLLMCL_BENCH_EXTRACT_MAX_MEMBERS", "4")
    with pytest.raises(SourceError, match=r"more than 4 members \(the limit"):
        hub.extract(archive, "1" * 64, tmp_path / "cache")
    monkeypatch.setenv("MLLMCL_BENCH_EXTRACT_MAX_MEMBERS", "5")
    monkeypatch.setenv("MLLMCL_BENCH_EXTRACT_MAX_BYTES", "4096")
    with pytest.raises(SourceError, match=r"more than 4096 bytes \(the limit"):
        hub.extract(archive, "1" * 64, tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []
    monkeypatch.delenv("MLLMCL_BENCH_EXTRACT_MAX_BYTES")
    assert len(list(hub.extract(archive, "1" * 64, tmp_path / "cache").rglob("*.png"))) == 5
    # the limits may also be given as an argument
    limits = hub.ExtractLimits(max_bytes=1 << 40, max_ratio=1000.0, max_members=1)
    with pytest.raises(hub.ExtractionLimitError, match=r"more than 1 members"):
        hub.extract(archive, "2" * 64, tmp_path / "cache", limits)


def test_an_archive_that_would_fill_the_disk_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "big.tar"
    _tar(archive, [("images/a.bin", "file", bytes(64 << 10))])
    monkeypatch.setattr(shutil, "disk_usage", lambda path: SimpleNamespace(free=1000))
    with pytest.raises(SourceError, match=r"more than the 1000 bytes free"):
        hub.extract(archive, "3" * 64, tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


@pytest.mark.parametrize("value", ["lots", "-1", "0", "nan"])
def test_a_bad_limit_setting_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    archive = tmp_path / "one.tar"
    _tar(archive, [("a.png", "file", png_bytes(1))])
    monkeypatch.setenv("MLLMCL_BENCH_EXTRACT_MAX_RATIO", value)
    with pytest.raises(SourceError, match=rf"^MLLMCL_BENCH_EXTRACT_MAX_RATIO={value}: expected"):
        hub.extract(archive, "4" * 64, tmp_path / "cache")


# --------------------------------------------------------------------------- 12. one-line errors


def png_header_bomb(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of ``width`` × ``height`` black pixels, in a few kilobytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = zlib.compress(bytes((1 + (width + 7) // 8) * height), 9)
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


BOMBS = {"error": (20_000, 20_000), "warning": (10_000, 10_000)}  # Pillow's limit: 89.5 MP


@pytest.mark.parametrize("size", list(BOMBS))
def test_a_png_decompression_bomb_in_a_mirror_is_one_line(home: Path, mirror, size: str) -> None:
    root, _ = mirror
    (root / MED_IMAGE).write_bytes(png_header_bomb(*BOMBS[size]))
    message = _prepare_error(root)
    assert message.startswith(f"{MED_IMAGE}: image too large to decode safely (")
    assert "pixels" in message


@pytest.mark.parametrize("size", list(BOMBS))
def test_png_bombs_are_one_line_wherever_images_are_read(tmp_path: Path, size: str) -> None:
    bomb = png_header_bomb(*BOMBS[size])
    path = tmp_path / "bomb.png"
    path.write_bytes(bomb)
    with pytest.raises(SourceError, match=rf"^{path}: image too large to decode safely"):
        image_pixels_sha256(path)  # the task hash decodes every image, verified or not
    images = common.Images(None, tmp_path / "suite")
    with pytest.raises(SourceError, match=r"^x\.parquet: record 3: embedded image: image too"):
        images.from_bytes(bomb, "bomb", "x.parquet", 3)


def test_json_nested_100000_deep_is_one_line(home: Path, mirror) -> None:
    root, _ = mirror
    (root / RS_TEST).write_text("[" * 100_000 + "]" * 100_000)
    assert _prepare_error(root) == (
        f"{RS_TEST}: invalid JSON at character 1: nested deeper than Python can decode"
    )


def test_the_command_line_prints_one_line(tmp_path: Path, mirror) -> None:
    root, _ = mirror
    (root / RS_TEST).write_text("[" * 100_000 + "]" * 100_000)
    env = {**os.environ, "MLLMCL_BENCH_HOME": str(tmp_path / "home")}
    env.pop("MLLMCL_BENCH_TASKS", None)
    command = ["tasks", "prepare", "mllm-cl-domain", "--from", str(root)]
    result = subprocess.run(
        [sys.executable, "-m", "benchmark.cli", *command],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"mllmcl-bench: error: {RS_TEST}: invalid JSON at character 1: nested deeper than "
        "Python can decode"
    )
    assert "Traceback" not in result.stderr
