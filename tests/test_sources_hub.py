"""hub.materialise: the download path (snapshot_download faked with a local cache), the
mirror path, safe archive extraction, the extraction cache, and the raw-file manifest."""

from __future__ import annotations

import os
import shutil
import tarfile
from pathlib import Path
from typing import Any

import pytest
from mirrors import (
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


def test_extra_repos_are_fetched_and_pinned_the_same_way(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mirror = tmp_path / "upstream"
    expected = ability_mirror(mirror)
    fake = FakeHub(
        tmp_path / "hf-cache",
        {
            "MLLM-CL/MLLM-CL": mirror,
            "AI4Math/MathVista": mirror / "mathvista",
            "OpenGVLab/MMT-Bench": mirror / "mmt-bench",
        },
    )
    monkeypatch.setattr("huggingface_hub.snapshot_download", fake)
    suite = load_suite("mllm-cl-ability")
    with pytest.warns(hub.UnpinnedRevisionWarning) as warned:
        manifest = prepare_suite(suite)
    assert sorted(str(w.message).split(":")[0] for w in warned) == [
        "AI4Math/MathVista",
        "MLLM-CL/MLLM-CL",
        "OpenGVLab/MMT-Bench",
    ]
    assert [
        (c["repo_id"], c["repo_type"], c["revision"], c["allow_patterns"]) for c in fake.calls
    ] == [
        ("MLLM-CL/MLLM-CL", "dataset", None, list(suite.source.allow_patterns)),
        ("AI4Math/MathVista", "dataset", None, ["data/testmini-*.parquet"]),
        ("OpenGVLab/MMT-Bench", "dataset", None, ["MMT-Bench_ALL.tsv"]),
    ]
    assert prepared(home, "mllm-cl-ability") == expected
    upstream = {u["repo_id"]: u for u in manifest["source"]["upstream"]}
    assert upstream["AI4Math/MathVista"]["resolved_revision"] == SHA  # recorded when unpinned
    assert upstream["OpenGVLab/MMT-Bench"]["subdir"] == "mmt-bench"
    assert "mmt-bench/MMT-Bench_ALL.tsv" in manifest["raw_files"]


def test_download_failure_is_one_line(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(repo_id: str, **kwargs: Any) -> str:
        raise OSError("We couldn't connect to the hub.\nCheck your connection.")

    monkeypatch.setattr("huggingface_hub.snapshot_download", offline)
    with pytest.raises(SourceError) as info:
        prepare_suite(_pinned("mllm-cl-domain"))
    message = str(info.value)
    assert message.startswith(f"cannot download MLLM-CL/MLLM-CL@{SHA}: OSError: We couldn't")
    assert "--from DIR" in message and "\n" not in message


def test_mirror_without_an_extra_repo_folder(home: Path, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    ability_mirror(mirror)
    shutil.rmtree(mirror / "mmt-bench")
    with pytest.raises(
        SourceError,
        match=r"mmt-bench: mirror folder not found; expected the "
        r"files of OpenGVLab/MMT-Bench",
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
