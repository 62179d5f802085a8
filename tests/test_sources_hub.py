"""hub.materialise: the download path (snapshot_download faked with a local cache), the
mirror path, safe archive extraction, the extraction cache, and the raw-file manifest."""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from mirrors import (
    MMT_ANSWERS,
    SHA,
    FakeHub,
    ability_mirror,
    domain_mirror,
    evil_tar,
    pack,
    png_bytes,
    prepared,
)

from benchmark.errors import SourceError, SuiteError
from benchmark.suites.console import show_text
from benchmark.suites.prepare import prepare_suite
from benchmark.suites.registry import SourceSpec, load_suite
from benchmark.suites.sources import hub


def _pinned(suite_id: str, revision: str | None = SHA):
    suite = load_suite(suite_id)
    return suite.model_copy(
        update={"source": suite.source.model_copy(update={"revision": revision})}
    )


def test_domain_through_the_hub_path(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mirror = tmp_path / "upstream"
    expected = domain_mirror(mirror)
    (mirror / "README.md").write_text("not allowed by allow_patterns")
    fake = FakeHub(tmp_path / "hf-cache", {"MLLM-CL/MLLM-CL": mirror})
    monkeypatch.setattr("huggingface_hub.snapshot_download", fake)
    suite = _pinned("mllm-cl-domain")
    manifest = prepare_suite(suite)
    assert fake.calls == [
        {
            "repo_id": "MLLM-CL/MLLM-CL",
            "repo_type": "dataset",
            "revision": SHA,
            "allow_patterns": list(suite.source.allow_patterns),
        }
    ]
    assert prepared(home, "mllm-cl-domain") == expected
    assert "README.md" not in manifest["raw_files"]
    assert manifest["source"]["revision"] == SHA
    assert manifest["source"]["upstream"][0] | {"files": 0} == {
        "repo_id": "MLLM-CL/MLLM-CL",
        "revision": SHA,
        "resolved_revision": SHA,
        "subdir": "",
        "origin": "hub",
        "files": 0,
    }
    # the same files from a mirror give the same records and raw-file hashes
    from_mirror = prepare_suite(suite, from_dir=mirror)
    assert from_mirror["task_hashes"] == manifest["task_hashes"]
    assert from_mirror["raw_files"] == manifest["raw_files"]


@contextmanager
def serving(folder: Path) -> Iterator[tuple[str, list[str]]]:
    """A real HTTP server on localhost serving ``folder``: (base URL, paths requested)."""
    requested: list[str] = []

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(folder), **kwargs)

        def do_GET(self) -> None:
            requested.append(self.path)
            super().do_GET()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requested
    finally:
        server.shutdown()
        server.server_close()


def _answers_at(suite: Any, url: str, sha256: str | None) -> Any:
    """The ability suite with its MMT-Bench answers file at ``url``, pinned to ``sha256``."""
    options = dict(suite.source.options)
    options["extra_files"] = [{**options["extra_files"][0], "url": url, "sha256": sha256}]
    source = suite.source.model_copy(update={"options": options})
    return suite.model_copy(update={"source": source})


def test_extra_repos_and_extra_files_are_fetched_and_pinned(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    mirror = tmp_path / "upstream"
    expected = ability_mirror(mirror)
    fake = FakeHub(
        tmp_path / "hf-cache",
        {"MLLM-CL/MLLM-CL": mirror, "AI4Math/MathVista": mirror / "mathvista"},
    )
    monkeypatch.setattr("huggingface_hub.snapshot_download", fake)
    published = load_suite("mllm-cl-ability").source.options["extra_files"][0]
    assert published["url"].endswith("/26026523/MMT-Bench_ALL_MI_anno.tsv")
    answers = (mirror / MMT_ANSWERS).read_bytes()
    digest = hashlib.sha256(answers).hexdigest()
    with serving(mirror / "mmt-bench") as (base, requested):
        suite = _answers_at(
            load_suite("mllm-cl-ability"), f"{base}/MMT-Bench_ALL_MI_anno.tsv", None
        )
        with pytest.warns(hub.UnpinnedRevisionWarning) as warned:
            manifest = prepare_suite(suite)
        assert f"is not pinned; its sha256 is {digest}" in capsys.readouterr().err
        assert sorted(str(w.message).split(": ")[0] for w in warned) == sorted(
            ["AI4Math/MathVista", "MLLM-CL/MLLM-CL", f"{base}/MMT-Bench_ALL_MI_anno.tsv"]
        )
        assert [
            (c["repo_id"], c["repo_type"], c["revision"], c["allow_patterns"]) for c in fake.calls
        ] == [
            ("MLLM-CL/MLLM-CL", "dataset", None, list(suite.source.allow_patterns)),
            ("AI4Math/MathVista", "dataset", None, ["data/testmini-*.parquet"]),
        ]
        assert requested == ["/MMT-Bench_ALL_MI_anno.tsv"]
        assert prepared(home, "mllm-cl-ability") == expected
        upstream = manifest["source"]["upstream"]
        assert upstream[1]["resolved_revision"] == SHA  # recorded when unpinned
        assert upstream[2] == {
            "url": f"{base}/MMT-Bench_ALL_MI_anno.tsv",
            "sha256": None,
            "resolved_sha256": digest,  # recorded when unpinned
            "path": MMT_ANSWERS,
            "origin": "url",
        }
        assert manifest["raw_files"][MMT_ANSWERS] == digest
        kept = home / "cache" / "downloads" / digest / "MMT-Bench_ALL_MI_anno.tsv"
        assert kept.read_bytes() == answers

        # pinned: the kept file is used without the network, and the records are the same
        pinned = _answers_at(suite, suite.source.options["extra_files"][0]["url"], digest)
        again = prepare_suite(pinned)
        assert requested == ["/MMT-Bench_ALL_MI_anno.tsv"]
        assert again["task_hashes"] == manifest["task_hashes"]
        assert f"prepared from {base}/MMT-Bench_ALL_MI_anno.tsv (sha256 {digest})" in (
            show_text("mllm-cl-ability")
        )

        # a pin the server's file does not match: refused, nothing kept, records untouched
        other = _answers_at(suite, f"{base}/MMT-Bench_ALL_MI_anno.tsv?v=2", "0" * 64)
        with pytest.raises(SourceError, match=f"the download has sha256 {digest}, the suite pins"):
            prepare_suite(other)
        assert sorted(p.name for p in (home / "cache" / "downloads").iterdir()) == [digest]
        assert prepared(home, "mllm-cl-ability") == expected

        # a mirror's copy must be the pinned file too
        with pytest.raises(SourceError, match=f"{MMT_ANSWERS}: sha256 {digest}, but the suite"):
            prepare_suite(_answers_at(suite, published["url"], "1" * 64), from_dir=mirror)


def test_unreachable_extra_file_is_one_line_with_the_mirror_path(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mirror = tmp_path / "upstream"
    ability_mirror(mirror)
    monkeypatch.setattr(
        "huggingface_hub.snapshot_download",
        FakeHub(
            tmp_path / "hf-cache",
            {"MLLM-CL/MLLM-CL": mirror, "AI4Math/MathVista": mirror / "mathvista"},
        ),
    )
    with serving(tmp_path / "empty-site") as (base, _):
        suite = _answers_at(load_suite("mllm-cl-ability"), f"{base}/gone.tsv", "2" * 64)
        with pytest.warns(hub.UnpinnedRevisionWarning), pytest.raises(SourceError) as info:
            prepare_suite(suite)
    message = str(info.value)
    assert message.startswith(f"cannot download {base}/gone.tsv: ")
    assert "404" in message and "\n" not in message
    assert message.endswith(f"the file at DIR/{MMT_ANSWERS})")
    assert not list((home / "cache" / "downloads").glob("**/*.partial"))


def test_extra_file_in_a_mirror_must_be_a_regular_file_inside_it(
    home: Path, tmp_path: Path
) -> None:
    mirror = tmp_path / "mirror"
    ability_mirror(mirror)
    answers = mirror / MMT_ANSWERS
    outside = tmp_path / "outside.tsv"
    answers.rename(outside)
    answers.symlink_to(outside)
    with pytest.raises(SourceError, match=r"a symbolic link to .*outside the mirror"):
        prepare_suite(load_suite("mllm-cl-ability"), from_dir=mirror)
    answers.unlink()
    os.mkfifo(answers)
    with pytest.raises(SourceError, match="is a FIFO, not a regular file"):
        prepare_suite(load_suite("mllm-cl-ability"), from_dir=mirror)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"url": "file:///etc/passwd", "sha256": None, "path": "a/b.tsv"}, "expected an https"),
        ({"url": "https://x/y.tsv", "sha256": "ABC", "path": "a/b.tsv"}, "64 lowercase hex"),
        ({"url": "https://x/y.tsv", "sha256": None, "path": "b.tsv"}, "at least one folder"),
        ({"url": "https://x/y.tsv", "sha256": None, "path": "../a/b.tsv"}, "at least one folder"),
        ({"url": "https://x/y.tsv", "path": "a/b.tsv", "md5": "x"}, "unknown key"),
        ({"url": "https://x/y.tsv", "sha256": None, "path": "mathvista/b.tsv"}, "share the folder"),
    ],
)
def test_extra_file_entries_are_checked(entry: dict[str, Any], message: str) -> None:
    suite = load_suite("mllm-cl-ability")
    options = {**suite.source.options, "extra_files": [entry]}
    with pytest.raises(SuiteError, match=message):
        hub.repo_specs(suite.source.model_copy(update={"options": options}))


def test_download_failure_is_one_line(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(repo_id: str, **kwargs: Any) -> str:
        raise OSError("We couldn't connect to the hub.\nCheck your connection.")

    monkeypatch.setattr("huggingface_hub.snapshot_download", offline)
    with pytest.raises(SourceError) as info:
        prepare_suite(_pinned("mllm-cl-domain"))
    message = str(info.value)
    assert message.startswith(f"cannot download MLLM-CL/MLLM-CL@{SHA}: OSError: We couldn't")
    assert "--from DIR" in message and "\n" not in message


def test_mirror_without_an_extra_repo_folder_or_file(home: Path, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    ability_mirror(mirror)
    (mirror / MMT_ANSWERS).unlink()
    with pytest.raises(
        SourceError,
        match=r"mmt-bench/MMT-Bench_ALL_MI_anno.tsv: file not found in the mirror; put the file "
        r"published at https://github.com/user-attachments/files/26026523/",
    ):
        prepare_suite(load_suite("mllm-cl-ability"), from_dir=mirror)
    shutil.rmtree(mirror / "mathvista")
    with pytest.raises(
        SourceError,
        match=r"mathvista: mirror folder not found; expected the files of AI4Math/MathVista",
    ):
        prepare_suite(load_suite("mllm-cl-ability"), from_dir=mirror)


# --------------------------------------------------------------------------- archives


@pytest.mark.parametrize(
    ("name", "link", "message"),
    [
        ("../evil.png", None, "member '../evil.png' would be written outside"),
        ("/tmp/evil.png", None, "member '/tmp/evil.png' would be written outside"),
        ("images/a/../../../evil.png", None, "would be written outside"),
        ("images/link", "../../outside", "links to '../../outside' outside"),
        ("images/abs", "/etc/passwd", "links to '/etc/passwd' outside"),
    ],
    ids=["dotdot", "absolute", "nested-dotdot", "symlink-out", "symlink-absolute"],
)
def test_archive_members_cannot_escape(
    tmp_path: Path, name: str, link: str | None, message: str
) -> None:
    archive = tmp_path / "bad.tar"
    evil_tar(archive, name, link=link)
    with pytest.raises(SourceError) as info:
        hub.extract(archive, "f" * 64, tmp_path / "cache")
    assert str(info.value).startswith(f"{archive}: ") and message in str(info.value)
    assert not (tmp_path / "evil.png").exists() and not (tmp_path / "cache" / ("f" * 64)).exists()


def test_hardlink_out_of_the_archive_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "bad.tar"
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo("images/hard")
        info.type, info.linkname = tarfile.LNKTYPE, "../../etc/passwd"
        tar.addfile(info)
    with pytest.raises(SourceError, match=r"links to '\.\./\.\./etc/passwd' outside"):
        hub.extract(archive, "e" * 64, tmp_path / "cache")


def test_evil_archive_in_a_mirror_stops_prepare_naming_it(home: Path, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    domain_mirror(mirror)
    evil_tar(mirror / "Domain_data/RS/extra.tar")
    with pytest.raises(SourceError) as info:
        prepare_suite(load_suite("mllm-cl-domain"), from_dir=mirror)
    message = str(info.value)
    assert message.startswith(str(mirror / "Domain_data/RS/extra.tar"))
    assert "'../evil.png' would be written outside" in message and "\n" not in message
    assert not (mirror / "Domain_data/evil.png").exists()


def test_corrupt_archive_names_it(home: Path, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    domain_mirror(mirror)
    archive = mirror / "Domain_data/AD/images.tar.gz"
    archive.write_bytes(archive.read_bytes()[:40])
    with pytest.raises(SourceError, match=rf"^{archive}: cannot extract"):
        prepare_suite(load_suite("mllm-cl-domain"), from_dir=mirror)


def test_same_content_extracted_once_and_views_merge(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    for part in ("p1", "p2"):
        (root / part / "images").mkdir(parents=True)
        (root / part / "images" / f"{part}.png").write_bytes(png_bytes(1))
        pack(root / part, root / "data" / f"{part}.tar", [f"images/{part}.png"])
    shutil.copyfile(root / "data/p1.tar", root / "data/copy-of-p1.tar")
    (root / "data/images").mkdir()
    (root / "data/images/loose.png").write_bytes(png_bytes(2))
    source = SourceSpec(module="mllm_cl", repo_id="org/x", allow_patterns=["data/*"])
    home = tmp_path / "home"
    raw_dir, raw_files = hub.materialise(source, from_dir=root, home=home)
    assert sorted(raw_files) == [
        "data/copy-of-p1.tar",
        "data/images/loose.png",
        "data/p1.tar",
        "data/p2.tar",
    ]
    assert raw_files["data/p1.tar"] == raw_files["data/copy-of-p1.tar"]
    assert len(list((home / "cache/extracted").iterdir())) == 2  # keyed by content
    # identical members of two archives are no conflict; folders merge with loose files
    assert sorted(p.name for p in (raw_dir / "data/images").iterdir()) == [
        "loose.png",
        "p1.png",
        "p2.png",
    ]


def test_colliding_members_are_an_error(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "d/images").mkdir(parents=True)
    (root / "d/images/x.png").write_bytes(png_bytes(1))
    pack(root / "d", root / "d/a.tar", ["images/x.png"])
    (root / "d/images/x.png").write_bytes(png_bytes(2))
    pack(root / "d", root / "d/b.tar", ["images/x.png"])
    source = SourceSpec(module="mllm_cl", repo_id="org/x")
    with pytest.raises(SourceError, match=r"b\.tar: 'x\.png' would overwrite"):
        hub.materialise(source, from_dir=root, home=tmp_path / "home")


def test_archives_merge_into_one_folder(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    for i in range(3):
        (root / "d/images/sub").mkdir(parents=True, exist_ok=True)
        (root / f"d/images/sub/{i}.png").write_bytes(png_bytes(i))
        pack(root / "d", root / f"d/part-{i}.tar", [f"images/sub/{i}.png"])
    (root / "d/images/sub").rmdir()
    (root / "d/images").rmdir()
    (root / "d/test.json").write_text("[]")
    home = tmp_path / "home"
    source = SourceSpec(module="mllm_cl", repo_id="org/x")
    raw_dir, _ = hub.materialise(source, from_dir=root, home=home)
    assert sorted(p.name for p in (raw_dir / "d/images/sub").iterdir()) == [
        "0.png",
        "1.png",
        "2.png",
    ]
    assert (raw_dir / "d/test.json").read_text() == "[]"
    assert len(list((home / "cache/extracted").iterdir())) == 3
    # nothing was written into the mirror or the extraction cache through the view
    assert sorted(p.name for p in (root / "d").iterdir()) == [
        "part-0.tar",
        "part-1.tar",
        "part-2.tar",
        "test.json",
    ]
    for folder in (home / "cache/extracted").iterdir():
        assert len(list(folder.rglob("*.png"))) == 1


def test_hash_memo_skips_unchanged_files(tmp_path: Path, monkeypatch) -> None:
    root = tmp_path / "repo"
    (root / "d").mkdir(parents=True)
    (root / "d/a.json").write_text("[]")
    source = SourceSpec(module="mllm_cl", repo_id="org/x")
    first = hub.materialise(source, from_dir=root, home=tmp_path / "home")[1]
    calls = []
    monkeypatch.setattr(hub, "sha256_file", lambda p: calls.append(p) or "0" * 64)
    assert hub.materialise(source, from_dir=root, home=tmp_path / "home")[1] == first
    assert calls == []
    (root / "d/a.json").write_text("[1]")
    os.utime(root / "d/a.json", ns=(1, 1))
    hub.materialise(source, from_dir=root, home=tmp_path / "home")
    assert len(calls) == 1


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"repo_id": "x", "subdir": "a"}, "repo_id: expected a hub id"),
        ({"repo_id": "o/x", "subdir": "../a"}, "subdir: expected a relative folder"),
        ({"repo_id": "o/x", "subdir": "a", "revision": "main"}, "revision: must be a full"),
        ({"repo_id": "o/x", "subdir": "a", "branch": "b"}, "unknown key(s) branch"),
    ],
)
def test_bad_extra_repo_entries(entry: dict, message: str) -> None:
    source = SourceSpec(module="mllm_cl", repo_id="o/main", options={"extra_repos": [entry]})
    with pytest.raises(SuiteError, match=r"source\.options\.extra_repos\[0\]"):
        hub.repo_specs(source)
    with pytest.raises(SuiteError) as info:
        hub.repo_specs(source)
    assert message in str(info.value)
