"""The static leaderboard: files, relative links, downloads, rank groups, failures, escaping."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pandas as pd
import pytest
from sitefixtures import (
    PAYLOAD,
    PAYLOAD_IMG,
    PAYLOAD_SCRIPT,
    PAYLOAD_SUITE,
    SHA40,
    reported_block,
    write_board,
    write_entry,
    write_payload_entry,
    write_reported_entry,
)

from benchmark.entry.results import MetricResult
from benchmark.errors import BenchmarkError
from benchmark.metrics import METRIC_DEFINITIONS_VERSION
from benchmark.site.entries import SITE_MARKER, SiteError, rank_groups_by_interval
from benchmark.site.format import fmt_number, fmt_parameters, slug
from benchmark.site.render import site_build

SHAPES = ["joint-mtl", "moe-router", "replay-lora", "seq-lora", "small-base"]


class Tags(HTMLParser):
    """Every start tag with its attributes, and the page's visible text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(path: Path) -> Tags:
    parser = Tags()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, Path]]:
    root = tmp_path_factory.mktemp("site")
    submissions = root / "submissions"
    entries = write_board(submissions)
    entries["payload-entry"] = write_payload_entry(submissions)
    index = site_build(submissions, root / "out")
    return index.parent, submissions, entries


def html_pages(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def test_files_exist(built: tuple[Path, Path, dict[str, Path]]) -> None:
    site, _, _ = built
    for name in (
        "index.html",
        "leaderboard.json",
        "static/site.css",
        "static/site.js",
        "shapes-v1.csv",
        "routing-v1.csv",
        SITE_MARKER,
    ):
        assert (site / name).is_file(), name
    for entry in SHAPES:
        assert (site / "shapes-v1" / f"{entry}.html").is_file()
    for task in ("colour", "shape", "count", "position"):
        assert (site / "shapes-v1" / "tasks" / f"{task}.html").is_file()
    for task in ("chartqa-ft", "mmbench", "docvqa"):
        assert (site / "routing-v1" / "tasks" / f"{task}.html").is_file()
    payload_dir = site / f"{slug(PAYLOAD_SUITE)}-v1"
    assert (payload_dir / "payload-entry.html").is_file()
    assert len(list((payload_dir / "tasks").glob("*.html"))) == 3
    assert not (site / "msvqa-v1.csv").exists()  # the empty suite has no CSV


def test_links_are_relative_and_resolve(built: tuple[Path, Path, dict[str, Path]]) -> None:
    site, _, _ = built
    checked = 0
    for page in html_pages(site):
        ids = {attrs.get("id") for _, attrs in parse(page).tags}
        for tag, attrs in parse(page).tags:
            for attr in ("href", "src"):
                url = attrs.get(attr)
                if url is None:
                    continue
                parts = urlsplit(url)
                if tag == "a" and parts.scheme == "https":
                    continue  # paper / code links
                if url.startswith("data:"):
                    assert tag == "link" and attrs.get("rel") == "icon"
                    continue
                assert not parts.scheme and not parts.netloc, f"{page}: {url}"
                assert not url.startswith("/"), f"{page}: absolute path {url}"
                if not parts.path:
                    assert parts.fragment in ids, f"{page}: missing anchor {url}"
                    continue
                target = (page.parent / unquote(parts.path)).resolve()
                assert target.is_file(), f"{page}: {url} does not resolve"
                assert site.resolve() in target.parents
                if parts.fragment:
                    assert parts.fragment in {a.get("id") for _, a in parse(target).tags}
                checked += 1
    assert checked > 100


def test_no_external_resources(built: tuple[Path, Path, dict[str, Path]]) -> None:
    site, _, _ = built
    external_links = 0
    for page in html_pages(site):
        for tag, attrs in parse(page).tags:
            for attr in ("src", "href", "srcset", "poster", "data", "action", "xlink:href"):
                url = (attrs.get(attr) or "").strip().lower()
                if url.startswith(("http://", "https://", "//")):
                    assert tag == "a" and attr == "href", f"{page}: <{tag} {attr}={url}>"
                    assert url.startswith("https://")
                    assert attrs.get("rel") == "noopener noreferrer"
                    external_links += 1
                assert not url.startswith(("javascript:", "file:")), f"{page}: {url}"
        text = page.read_text(encoding="utf-8")
        assert "@import" not in text and "url(" not in text
    css = (site / "static" / "site.css").read_text(encoding="utf-8")
    js = (site / "static" / "site.js").read_text(encoding="utf-8")
    assert "url(" not in css and "@import" not in css and "http" not in css
    for word in ("http", "fetch(", "XMLHttpRequest", "innerHTML", "eval(", "import("):
        assert word not in js, word
    assert external_links >= 2 * 7  # paper and code on every entry page


def test_leaderboard_json(built: tuple[Path, Path, dict[str, Path]]) -> None:
    site, _, entries = built
    data = json.loads((site / "leaderboard.json").read_text(encoding="utf-8"))
    assert data["schema"] == "mllmcl-bench/leaderboard/1"
    assert data["metric_definitions"] == METRIC_DEFINITIONS_VERSION
    assert "overlap" in data["rank_rule"]
    by_name = {e["name"]: e for e in data["entries"]}
    assert set(by_name) == {
        *SHAPES,
        "probe-one",
        "payload-entry",
        "payload-two",
        "paper-table",
        "payload-paper",
    }
    assert by_name["paper-table"]["kind"] == "reported"
    assert by_name["paper-table"]["rank_group"] is None
    assert [
        e["name"] for e in data["entries"] if e["suite"] == "shapes" and e["kind"] == "measured"
    ] == SHAPES
    for name, entry_dir in entries.items():
        if name == "paper-table":
            continue
        row = by_name[name]
        results = json.loads((entry_dir / "results.json").read_text(encoding="utf-8"))
        assert row["results"]["matrix"] == results["matrix"]
        assert row["results"]["metrics"] == results["metrics"]
        assert row["results"]["provenance"] == results["provenance"]
        assert row["submission"]["name"] == name
        assert (site / row["page"]).is_file()
    assert by_name["replay-lora"]["submission"]["replay_buffer"] == 200
    assert by_name["moe-router"]["verified"] is False
    assert by_name["payload-entry"]["submission"]["method"] == PAYLOAD
    assert {s["suite"]: s["entries"] for s in data["suites"]}["msvqa"] == 0
    assert [by_name[n]["rank_group"] for n in SHAPES] == [1, 2, 3, 4, 5]
    assert by_name["probe-one"]["results"]["metrics"]["bwt"]["value"] is None


def test_csv_rows_and_values(built: tuple[Path, Path, dict[str, Path]]) -> None:
    site, _, entries = built
    frame = pd.read_csv(site / "shapes-v1.csv")
    assert list(frame["name"]) == SHAPES
    assert list(frame["rank_group"]) == [1, 2, 3, 4, 5]
    for _, row in frame.iterrows():
        results = json.loads((entries[row["name"]] / "results.json").read_text())
        for metric in ("last", "avg", "bwt", "forgetting", "fwt", "mft", "zero_shot_gain"):
            want = results["metrics"][metric]
            if want["value"] is None:
                assert pd.isna(row[metric]) and pd.isna(row[f"{metric}_ci_low"])
                continue
            assert math.isclose(row[metric], want["value"])
            assert math.isclose(row[f"{metric}_ci_low"], want["ci95"][0])
            assert math.isclose(row[f"{metric}_ci_high"], want["ci95"][1])
    rows = frame.set_index("name")
    assert (
        rows.loc["replay-lora", "uses_replay"] and rows.loc["replay-lora", "replay_buffer"] == 200
    )
    assert rows.loc["moe-router", "task_id_at_inference"]
    assert not rows.loc["moe-router", "verified"] and rows.loc["seq-lora", "verified"]
    assert rows.loc["small-base", "extra_data"] == "10k synthetic captions"
    assert rows.loc["small-base", "parameters"] == 1_500_000_000
    assert math.isclose(rows.loc["seq-lora", "last_pct_of_joint"], 100 * 64.5 / 84.0)
    assert rows.loc["seq-lora", "joint_reference"] == "joint-mtl"
    assert pd.isna(rows.loc["small-base", "last_pct_of_joint"])  # no joint on its base model
    routing = pd.read_csv(site / "routing-v1.csv")
    assert list(routing["name"]) == ["probe-one"] and pd.isna(routing.loc[0, "bwt"])


def test_csv_neutralises_formulas(tmp_path: Path) -> None:
    write_entry(tmp_path / "subs", "formula", method='=HYPERLINK("https://x")')
    site = site_build(tmp_path / "subs", tmp_path / "out").parent
    frame = pd.read_csv(site / "shapes-v1.csv")
    assert frame.loc[0, "method"] == '\'=HYPERLINK("https://x")'


def m(value: float | None, low: float | None = None, high: float | None = None) -> MetricResult:
    ci = None if low is None or high is None else (low, high)
    return MetricResult(value=value, ci95=ci)


def test_rank_groups_by_interval() -> None:
    groups = rank_groups_by_interval(
        {
            "a": m(80, 78, 82),
            "b": m(79, 77.5, 80.5),  # overlaps a → group 1
            "c": m(77, 75, 77.9),  # overlaps b but not a → leads group 2
            "d": m(76, 74, 78),  # overlaps c → group 2 (and a: 78 ≥ 78, ends count)
            "e": m(70, 69, 71),
            "f": m(None),
            "g": None,
        }
    )
    assert groups == {"a": 1, "b": 1, "c": 2, "d": 1, "e": 3, "f": None, "g": None}
    # no interval: the point itself; lower is better reverses the order
    assert rank_groups_by_interval({"x": m(5), "y": m(5), "z": m(6)}) == {"z": 1, "x": 2, "y": 2}
    lower = rank_groups_by_interval({"x": m(1, 0, 2), "y": m(5, 4, 6)}, higher_is_better=False)
    assert lower == {"x": 1, "y": 2}
    assert rank_groups_by_interval({}) == {}


def test_index_table(built: tuple[Path, Path, dict[str, Path]]) -> None:
    site, _, _ = built
    html = (site / "index.html").read_text(encoding="utf-8")
    page = parse(site / "index.html")
    rows = [a for t, a in page.tags if t == "tr" and a.get("data-name")]
    shapes_rows = [a["data-name"] for a in rows if a["data-name"] in SHAPES]
    assert shapes_rows == SHAPES
    replay = next(a for a in rows if a["data-name"] == "replay-lora")
    assert replay["data-replay"] == "yes" and replay["data-verified"] == "verified"
    moe = next(a for a in rows if a["data-name"] == "moe-router")
    assert moe["data-task-id"] == "yes" and moe["data-verified"] == "self-reported"
    assert "entries whose 95% intervals overlap the group leader" in html.lower()
    assert "No entries for this suite yet" in html  # msvqa
    assert "needs at least two steps" in html  # routing: T = 1, bwt is null with a reason
    assert "row 0 missing: no base run" in html  # a null metric's reason
    assert "last vs joint" in html and "76.8%" in html
    assert "negative = forgetting" in html and "positive = forgetting" in html
    assert f"Metric definitions version {METRIC_DEFINITIONS_VERSION}" in html
    # each metric's interval method, in the definitions table and explained below it
    forgetting_row = re.search(r"<tr><th scope=\"row\"><code>forgetting</code>.*?</tr>", html)
    assert forgetting_row and ">moment selection</td>" in forgetting_row.group(0)
    assert "<b>BCa</b>: bias-corrected and accelerated" in html
    assert "<b>moment selection</b>:" in html
    assert 'data-value="64.5"' in html  # numeric sort key, not the displayed text
    assert "\u22126.0" in html  # a negative bwt with a real minus sign


def test_entry_page(built: tuple[Path, Path, dict[str, Path]]) -> None:
    site, _, entries = built
    page = site / "shapes-v1" / "seq-lora.html"
    html = page.read_text(encoding="utf-8")
    tags = parse(page).tags
    cells = [a for t, a in tags if t == "g" and "cell" in (a.get("class") or "").split()]
    assert len(cells) == 5 * 4
    results = json.loads((entries["seq-lora"] / "results.json").read_text())
    for key in results["task_hashes"].values():
        assert key in html
    for ckpt in results["provenance"]["checkpoints"]:
        assert ckpt["content_sha256"] in html
    assert results["provenance"]["chat_template_sha256"] in html
    assert "42 min 05 s" in html and "transformers" in html and "5.17.0" in html
    assert "hf://org/seq-lora@" in html  # checkpoint sources with revisions
    links = [a for t, a in tags if t == "a" and (a.get("href") or "").startswith("https://")]
    assert {a["href"] for a in links} == {
        "https://arxiv.org/abs/2506.05453",
        "https://github.com/example/method",
    }
    probe_page = (site / "routing-v1" / "probe-one.html").read_text(encoding="utf-8")
    assert "Probes" in probe_page and 'data-probe="mmbench"' in probe_page
    assert "needs at least two steps" in probe_page


def test_null_cell_shows_reason(built: tuple[Path, Path, dict[str, Path]]) -> None:
    site, _, _ = built
    html = (site / f"{slug(PAYLOAD_SUITE)}-v1" / "payload-entry.html").read_text()
    assert "not evaluated" in html


def test_task_page(built: tuple[Path, Path, dict[str, Path]]) -> None:
    site, _, entries = built
    page = site / "shapes-v1" / "tasks" / "shape.html"
    tags = parse(page).tags
    assert [a["data-name"] for t, a in tags if t == "tr" and a.get("data-name")] == SHAPES
    html = page.read_text(encoding="utf-8")
    assert html.count('class="series') == len(SHAPES)
    results = json.loads((entries["replay-lora"] / "results.json").read_text())
    assert fmt_number(results["matrix"][4][1]) in html


def test_output_is_escaped(built: tuple[Path, Path, dict[str, Path]]) -> None:
    site, _, _ = built
    for page in html_pages(site):
        html = page.read_text(encoding="utf-8")
        assert "<script>window" not in html, page
        assert "<img" not in html, page
        for tag, attrs in parse(page).tags:
            assert not any(k.startswith("on") for k in attrs), f"{page}: <{tag} {attrs}>"
            if tag == "script":
                assert attrs.get("src", "").endswith("static/site.js")
    section = site / f"{slug(PAYLOAD_SUITE)}-v1"
    for payload_page in (
        section / "payload-entry.html",
        section / "reported" / "payload-paper.html",
        site / "index.html",
    ):
        text = "".join(parse(payload_page).text)
        for payload in (PAYLOAD, PAYLOAD_SCRIPT, PAYLOAD_IMG):
            assert payload in text, payload_page
    compare = "".join(parse(section / "compare.html").text)
    assert PAYLOAD in compare and PAYLOAD_IMG in compare
    assert PAYLOAD not in (section / "compare.html").read_text("utf-8")  # escaped, data too


def test_bad_results_fail_naming_the_file(tmp_path: Path) -> None:
    subs = tmp_path / "subs"
    write_entry(subs, "good")
    bad = write_entry(subs, "bad")
    out = tmp_path / "out"
    site_build(subs, out)
    before = (out / "index.html").read_bytes()
    cases = {
        "{not json": "invalid JSON",
        json.dumps({"schema": "mllmcl-bench/results/1"}): "field",
    }
    original = (bad / "results.json").read_text()
    for text, message in cases.items():
        (bad / "results.json").write_text(text)
        with pytest.raises(SiteError) as info:
            site_build(subs, out)
        assert str(bad / "results.json") in str(info.value) and message in str(info.value)
        assert isinstance(info.value, BenchmarkError)
        assert (out / "index.html").read_bytes() == before  # the old site stays
    data = json.loads(original)
    data["matrix"][1][0] = 150.0
    (bad / "results.json").write_text(json.dumps(data))
    with pytest.raises(
        SiteError, match=r"bad/results\.json: field matrix\[1\]\[0\]: .*less than or equal to 100"
    ):
        site_build(subs, out)
    (bad / "results.json").unlink()
    with pytest.raises(SiteError, match=r"bad/results\.json: not found"):
        site_build(subs, out)


@pytest.mark.parametrize(
    ("change", "file", "message"),
    [
        ({"method_family": "magic"}, "submission.yaml", "field method_family"),
        ({"paper": "javascript:alert(1)"}, "submission.yaml", "https:// URL"),
        ({"name": "other-name"}, "submission.yaml", "must equal the folder name"),
        ({"suite": "routing"}, "submission.yaml", "but the entry is under shapes/"),
        ({"suite_version": 2}, "results.json", "submission.yaml says"),
    ],
)
def test_bad_submission_fails_naming_the_file(
    tmp_path: Path, change: dict, file: str, message: str
) -> None:
    import yaml

    entry = write_entry(tmp_path / "subs", "entry")
    path = entry / "submission.yaml"
    data = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**data, **change}))
    with pytest.raises(SiteError) as info:
        site_build(tmp_path / "subs", tmp_path / "out")
    assert str(entry / file) in str(info.value) and message in str(info.value)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("offset", "what_to_do"),
    [(-1, "`mllmcl-bench rescore {entry}` recomputes it"), (1, "update mllmcl-bench")],
    ids=["older", "newer"],
)
def test_results_of_other_metric_definitions_fail(
    tmp_path: Path, offset: int, what_to_do: str
) -> None:
    other = METRIC_DEFINITIONS_VERSION + offset
    entry = write_entry(tmp_path / "subs", "entry", results={"metric_definitions": other})
    with pytest.raises(SiteError, match=f"metric definitions version {other}") as info:
        site_build(tmp_path / "subs", tmp_path / "out")
    assert str(info.value).startswith(str(entry / "results.json"))
    assert what_to_do.format(entry=entry) in str(info.value)


def test_output_folder_safety_and_rebuild(tmp_path: Path) -> None:
    subs = tmp_path / "subs"
    write_entry(subs, "one")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    with pytest.raises(SiteError, match="refusing to replace"):
        site_build(subs, foreign)
    assert (foreign / "keep.txt").read_text() == "mine"
    out = tmp_path / "out"
    site_build(subs, out)
    first = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    (out / "stale.html").write_text("old")
    site_build(subs, out)
    second = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert first == second  # deterministic, and stale files are gone
    assert not list(tmp_path.glob(".*building*"))


def test_empty_and_missing_submissions(tmp_path: Path) -> None:
    (tmp_path / "subs").mkdir()
    index = site_build(tmp_path / "subs", tmp_path / "out")
    assert "No entries yet" in index.read_text()
    data = json.loads((index.parent / "leaderboard.json").read_text())
    assert data["entries"] == [] and data["suites"] == []
    with pytest.raises(SiteError, match="submissions folder not found"):
        site_build(tmp_path / "nope", tmp_path / "out2")


def test_formatting() -> None:
    assert fmt_number(-2.04, signed=True) == "\u22122.0"
    assert fmt_number(2.04, signed=True) == "+2.0"
    assert fmt_number(-0.01, signed=True) == "0.0"
    assert fmt_number(None) == "\u2014" and fmt_number(float("nan")) == "\u2014"
    assert fmt_parameters(7_000_000_000) == "7B"
    assert fmt_parameters(6_740_000_000) == "6.7B"
    assert fmt_parameters(350_000_000) == "350M"
    assert fmt_parameters(None) == "\u2014"
    assert slug("colour") == "colour"
    assert slug("Colour") != slug("colour") and "/" not in slug("a/../b")
    assert slug("..") != ".." and slug("") != ""


def test_site_reads_only_its_inputs() -> None:
    """The site imports no model, backend, evaluator, scoring or suite code."""
    code = (
        "import sys, benchmark.site.render; "
        "print(' '.join(sorted(m for m in sys.modules if m.startswith(('benchmark', 'torch', "
        "'transformers', 'vllm')))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    allowed = ("benchmark.site", "benchmark.entry", "benchmark.metrics")
    assert all(
        m
        in (
            "benchmark",
            "benchmark._files",
            "benchmark._strict_json",
            "benchmark.errors",
            "benchmark.paths",
        )
        or m.startswith(allowed)
        for m in loaded
    ), loaded


def test_entry_page_shows_mixed_backends(tmp_path: Path) -> None:
    submissions = tmp_path / "submissions"
    write_entry(submissions, "one-backend")
    entry = write_entry(submissions, "mixed")
    results = json.loads((entry / "results.json").read_text())
    results["provenance"].update(backend="vllm", step_backends={"0": "vllm", "1": "hf"})
    (entry / "results.json").write_text(json.dumps(results))
    site_build(submissions, tmp_path / "site")
    html = (tmp_path / "site" / "shapes-v1" / "mixed.html").read_text(encoding="utf-8")
    assert "mixed backends" in html and "step 1 <code>hf</code>" in html
    plain = (tmp_path / "site" / "shapes-v1" / "one-backend.html").read_text(encoding="utf-8")
    assert "mixed backends" not in plain


def test_entry_page_shows_remote_code(tmp_path: Path) -> None:
    submissions = tmp_path / "submissions"
    entry = write_entry(submissions, "remote")
    results = json.loads((entry / "results.json").read_text())
    results["provenance"]["trust_remote_code"] = True
    (entry / "results.json").write_text(json.dumps(results))
    site_build(submissions, tmp_path / "site")
    html = (tmp_path / "site" / "shapes-v1" / "remote.html").read_text(encoding="utf-8")
    assert "ran the base model's remote code" in html


def test_entry_page_shows_the_judge_share_per_task(tmp_path: Path) -> None:
    """Issue 17: per task, the items the reference would have sent to its LLM judge."""
    submissions = tmp_path / "submissions"
    entry = write_entry(submissions, "judged")
    results = json.loads((entry / "results.json").read_text())
    first, second = results["tasks"][:2]
    ours = [c for c in results["cells"] if c["task"] == first]
    for cell in results["cells"]:
        cell["judge_needed"] = 5 if cell["task"] == first else 0
        cell["parse_failures"] = 1 if cell["task"] == first else 0
    del next(c for c in results["cells"] if c["task"] == second)["judge_needed"]  # older file
    (entry / "results.json").write_text(json.dumps(results))
    site_build(submissions, tmp_path / "site")
    html = (tmp_path / "site" / "shapes-v1" / "judged.html").read_text(encoding="utf-8")
    assert "Comparability with the references" in html
    items = 50 * len(ours)  # every cell of the fixture holds 50 items
    # 5 of every 50 items: 10.0 %
    assert (
        f'<tr><td>{first}</td><td class="num">{items}</td><td class="num">{len(ours)}</td>'
        f'<td class="num">{5 * len(ours)}</td><td class="num">10.0</td></tr>'
    ) in html
    # a cell without the count (results written before it existed): unknown, not 0
    assert f'<tr><td>{second}</td><td class="num">' in html
    row = html.split(f"<tr><td>{second}</td>", 1)[1].split("</tr>", 1)[0]
    assert row.endswith('<td class="num">\u2014</td><td class="num">\u2014</td>'), row
    # and each cell's own count in the cells table
    assert '<td class="num">5</td><td><code class="hash">' in html


# --------------------------------------------------------------------------- issue 20


def _edit_text(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_numbers_beyond_what_the_site_shows_fail_naming_the_file(tmp_path: Path) -> None:
    """``parameters`` of 2**63 passed validation, then crashed every later build."""
    subs = tmp_path / "subs"
    entry = write_entry(subs, "big", parameters=7_000_000_000)
    _edit_text(entry / "submission.yaml", "parameters: 7000000000", f"parameters: {2**63}")
    with pytest.raises(SiteError) as info:
        site_build(subs, tmp_path / "out")
    message = str(info.value)
    assert message.startswith(f"{entry / 'submission.yaml'}: field base_model.parameters: ")
    assert "\n" not in message and not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ('"wall_seconds": 2525.0', '"wall_seconds": 1e999', "provenance.wall_seconds"),
        ('"temperature": 0.0', '"temperature": -1e999', "provenance.generation.temperature"),
        ('"seed": 0', '"seed": 1e999', "bootstrap.seed"),
    ],
    ids=["wall-seconds", "generation", "bootstrap"],
)
def test_non_finite_results_fail_naming_the_file(
    tmp_path: Path, old: str, new: str, field: str
) -> None:
    subs = tmp_path / "subs"
    entry = write_entry(subs, "inf")
    _edit_text(entry / "results.json", old, new)
    with pytest.raises(SiteError) as info:
        site_build(subs, tmp_path / "out")
    assert str(info.value) == f"{entry / 'results.json'}: field {field}: is not a finite number"


def test_a_task_name_ending_in_a_newline_is_refused(tmp_path: Path) -> None:
    """It made a page called ``colour\\n.html``."""
    subs = tmp_path / "subs"
    entry = write_entry(subs, "newline")
    data = json.loads((entry / "results.json").read_text())
    data["tasks"][0] = "colour\n"
    (entry / "results.json").write_text(json.dumps(data))
    with pytest.raises(SiteError, match=r"results\.json: field tasks\[0\]: contains control"):
        site_build(subs, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "name", ["colour\n", "colour\r", "colour\u2028", "col\u202eour", "colour/"]
)
def test_page_names_are_safe_slugs(name: str) -> None:
    page = slug(name)
    assert re.fullmatch(r"[a-z0-9][a-z0-9._-]*", page), page
    assert page != "colour"  # a page of its own, not the page of the plain name


def test_two_tasks_on_one_page_name_the_files(tmp_path: Path) -> None:
    subs = tmp_path / "subs"
    one = write_entry(subs, "one", tasks=("Colour", "shape"))
    two = write_entry(subs, "two", tasks=(slug("Colour"), "shape"))
    with pytest.raises(SiteError) as info:
        site_build(subs, tmp_path / "out")
    message = str(info.value)
    assert str(one / "results.json") in message and str(two / "results.json") in message
    assert "'Colour'" in message and repr(slug("Colour")) in message


def _provenance_section(page: Path) -> str:
    html = page.read_text(encoding="utf-8")
    start = html.index("<h2>Provenance</h2>")
    end = html.find("<h2", start + 1)
    return html[start : end if end > 0 else None]


def test_self_reported_provenance_is_shown_as_such(
    built: tuple[Path, Path, dict[str, Path]],
) -> None:
    """A predictions_only entry's backend, hashes and counts are its authors' word."""
    site, _, _ = built
    own = _provenance_section(site / "shapes-v1" / "moe-router.html")
    assert "self-reported" in own
    assert "content sha256 (self-reported)" in own
    verified = _provenance_section(site / "shapes-v1" / "seq-lora.html")
    assert "self-reported" not in verified
    assert "content sha256 (harness)" in verified


@pytest.mark.parametrize("name", ["results.json", "submission.yaml"])
def test_an_entry_file_that_is_a_folder_fails_naming_it(tmp_path: Path, name: str) -> None:
    subs = tmp_path / "subs"
    entry = write_entry(subs, "folder")
    (entry / name).unlink()
    (entry / name).mkdir()
    with pytest.raises(SiteError) as info:
        site_build(subs, tmp_path / "out")
    assert str(info.value).startswith(f"{entry / name}: is a folder, not a file")


# --------------------------------------------------------------------------- reported numbers


def cells_of(page: Path, selector_class: str) -> dict[str, dict[str, str]]:
    """Per row of the table with ``selector_class``: its data-metric → cell texts."""
    text = page.read_text(encoding="utf-8")
    start = text.index(f'class="plain {selector_class}"')
    table = text[start : text.index("</table>", start)]
    rows = {}
    for row in re.findall(r'<tr data-metric="([^"]+)"([^>]*)>(.*?)</tr>', table, re.S):
        key, attrs, body = row
        cells = [re.sub(r"<[^>]+>", " ", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", body, re.S)]
        rows[key] = {"attrs": attrs, "cells": [" ".join(c.split()) for c in cells]}
    return rows


def test_entry_page_shows_reported_next_to_measured(
    built: tuple[Path, Path, dict[str, Path]],
) -> None:
    site, _, _ = built
    page = site / "shapes-v1" / "seq-lora.html"
    rows = cells_of(page, "paper-table")
    # last: the paper states 56.0; we measured 64.5 with interval 63.0 - 66.0
    # (reported numbers keep two decimals, as papers print them)
    assert rows["last"]["cells"][:4] == ["56.00", "64.5", "63.0 \u2013 66.0", "+8.5"]
    assert 'data-inside="no"' in rows["last"]["attrs"]
    assert "outside our 95% interval" in rows["last"]["cells"][4]
    # avg from the paper's lower-triangular matrix, with the package's own metric code
    assert rows["avg"]["cells"][0] == "74.00 from its matrix"
    assert rows["bwt"]["cells"][0] == "\u221216.00 from its matrix"
    # fwt needs the cells above the diagonal, which a lower-triangular table lacks
    assert rows["fwt"]["cells"][0].startswith("not computable: needs R[1][2]")
    assert rows["fwt"]["cells"][3] == "\u2014"
    text = page.read_text(encoding="utf-8")
    assert "Table 2, row LoRA-FT" in text
    # an entry without reported: has no such section
    assert "paper-table" not in (site / "shapes-v1" / "joint-mtl.html").read_text("utf-8")


def test_a_reported_value_inside_the_interval_says_so(tmp_path: Path) -> None:
    submissions = tmp_path / "submissions"
    write_entry(
        submissions,
        "seq",
        learn=78.0,
        forget=9.0,
        submission={"reported": reported_block(last=65.0, matrix=False, bwt=-30.0)},
    )
    write_entry(submissions, "other", learn=70.0, forget=2.0)
    site = site_build(submissions, tmp_path / "site").parent
    rows = cells_of(site / "shapes-v1" / "seq.html", "paper-table")
    assert rows["last"]["cells"][3] == "\u22120.5" and 'data-inside="yes"' in rows["last"]["attrs"]
    assert 'data-inside="no"' in rows["bwt"]["attrs"]  # -18.0 measured, -30.0 reported
    assert rows["avg"]["cells"][0].startswith("not given")
    index = (site / "index.html").read_text("utf-8")
    assert "\u0394 vs paper" in index
    cell = re.search(
        r'<tr data-name="seq".*?<td class="num paper" data-value="([^"]*)"[^>]*>(.*?)</td>',
        index,
        re.S,
    )
    assert cell and float(cell.group(1)) == -0.5 and "inside 95%" in cell.group(2)
    frame = pd.read_csv(site / "shapes-v1.csv")
    seq = frame[frame["name"] == "seq"].iloc[0]
    assert seq["reported_last"] == 65.0 and seq["last_minus_reported"] == -0.5
    assert bool(seq["reported_last_inside_ci95"]) is True
    # the paper's numbers never change a rank: the same board without them ranks the same
    plain = tmp_path / "plain"
    write_entry(plain, "seq", learn=78.0, forget=9.0)
    write_entry(plain, "other", learn=70.0, forget=2.0)
    again = site_build(plain, tmp_path / "plain-site").parent
    ranks = [
        (e["name"], e["rank_group"])
        for e in json.loads((site / "leaderboard.json").read_text("utf-8"))["entries"]
    ]
    assert ranks == [
        (e["name"], e["rank_group"])
        for e in json.loads((again / "leaderboard.json").read_text("utf-8"))["entries"]
    ]
    assert 'class="num paper"' not in (again / "index.html").read_text("utf-8")


def test_index_paper_column(built: tuple[Path, Path, dict[str, Path]]) -> None:
    site, _, _ = built
    index = (site / "index.html").read_text("utf-8")
    board = index[index.index('id="board-shapes-v1"') :]
    board = board[: board.index("</table>")]
    values = {
        name: value
        for name, value in re.findall(
            r'<tr data-name="([^"]+)".*?<td class="num paper" data-value="([^"]*)"', board, re.S
        )
    }
    assert values == {
        "joint-mtl": "",
        "replay-lora": "",
        "moe-router": "",
        "seq-lora": "8.5",
        "small-base": "",
    }
    assert "outside 95%" in board


def test_reported_only_entries_are_flagged_and_unranked(
    built: tuple[Path, Path, dict[str, Path]],
) -> None:
    site, _, _ = built
    index = (site / "index.html").read_text("utf-8")
    board = index[index.index('id="board-shapes-v1"') :]
    board = board[: board.index("</table>")]
    assert "paper-table" not in board  # not in the ranked table
    block = index[index.index('id="reported-shapes-v1"') :]
    block = block[: block.index("</table>")]
    assert 'data-name="paper-table"' in block and ">reported</span>" in block
    assert "rank-badge" not in block
    assert "https://arxiv.org/abs/2506.05453" in block and "Table 2, row LoRA-FT" in block
    # bwt as the paper states it; last from its matrix; fwt not computable
    assert re.search(r'data-value="-15.5"[^>]*>.*?\u221215.5.*?paper', block, re.S)
    assert "from its matrix" in block and "not computable" in block
    page = site / "shapes-v1" / "reported" / "paper-table.html"
    text = page.read_text("utf-8")
    assert "never ranked" in text and "reported-matrix" in text
    frame = pd.read_csv(site / "shapes-v1.csv")
    assert "paper-table" not in set(frame["name"])


def test_no_scatter_without_points(built: tuple[Path, Path, dict[str, Path]]) -> None:
    site, _, _ = built
    index = (site / "index.html").read_text("utf-8")
    routing = index[index.index('id="routing-v1"') : index.index('id="shapes-v1"')]
    assert 'class="scatter"' not in routing  # T = 1: no forgetting, nothing to plot
    assert "nothing to plot" in routing


def test_a_suite_with_only_reported_entries(tmp_path: Path) -> None:
    submissions = tmp_path / "submissions"
    write_reported_entry(submissions, "paper-only", suite="msvqa")
    site = site_build(submissions, tmp_path / "site").parent
    index = (site / "index.html").read_text("utf-8")
    assert 'id="reported-msvqa-v1"' in index and "No entries for this suite yet" not in index
    assert (site / "msvqa-v1" / "reported" / "paper-only.html").is_file()
    assert not (site / "msvqa-v1.csv").exists()


def test_reported_only_entry_with_results_fails_naming_the_file(tmp_path: Path) -> None:
    submissions = tmp_path / "submissions"
    entry = write_reported_entry(submissions, "paper-only")
    (entry / "results.json").write_text("{}\n")
    with pytest.raises(SiteError, match=r"paper-only/results.json: a reported_only entry"):
        site_build(submissions, tmp_path / "site")


def test_reported_tasks_must_be_the_measured_ones(tmp_path: Path) -> None:
    submissions = tmp_path / "submissions"
    block = reported_block()
    block["tasks"] = ["shape", "colour", "count", "position"]
    write_entry(submissions, "seq", submission={"reported": block})
    with pytest.raises(SiteError, match=r"seq/submission.yaml: field reported.tasks"):
        site_build(submissions, tmp_path / "site")


def test_base_model_size_counted_declared_or_unknown(
    built: tuple[Path, Path, dict[str, Path]],
) -> None:
    site, _, _ = built
    index = (site / "index.html").read_text("utf-8")
    params = dict(
        re.findall(
            r'<tr data-name="([^"]+)".*?<td class="num params"[^>]*>([^<]*)</td>', index, re.S
        )
    )
    assert params["joint-mtl"] == "7.1B"  # counted by the harness: wins over the declared 7B
    assert params["seq-lora"] == "7B"  # declared
    assert params["probe-one"] == "unknown"
    assert "counted by the harness" in index and "as submission.yaml declares" in index
    frame = pd.read_csv(site / "shapes-v1.csv")
    joint = frame[frame["name"] == "joint-mtl"].iloc[0]
    assert joint["parameters"] == 7_061_000_000 and joint["parameters_from"] == "counted"
    # the base model filter tells revisions apart (id@revision)
    assert f'<option value="org/small-vlm@{SHA40}">org/small-vlm @ {SHA40[:7]}</option>' in index


def test_one_compare_page_per_section(built: tuple[Path, Path, dict[str, Path]]) -> None:
    """No page per pair: one compare.html per section, carrying each entry once (its matrix,
    every cell formatted, and a pre-rendered heatmap); site.js draws the pair."""
    site, _, entries = built
    assert not (site / "shapes-v1" / "compare").exists()
    page = site / "shapes-v1" / "compare.html"
    text = page.read_text("utf-8")
    assert text.count('<template class="compare-entry"') == len(SHAPES)
    assert text.count('class="heatmap"') == len(SHAPES)
    data = json.loads(unescape(re.search(r'data-compare="([^"]*)"', text).group(1)))
    assert sorted(data["entries"]) == SHAPES
    for name in SHAPES:
        results = json.loads((entries[name] / "results.json").read_text("utf-8"))
        shown = data["entries"][name]
        assert shown["matrix"] == results["matrix"]
        assert shown["text"] == [[fmt_number(v) for v in row] for row in results["matrix"]]
    assert set(data["frames"]) == {str(d["steps"]) for d in data["entries"].values()}
    # the entry page links to the comparisons, the pair in rank order
    entry_page = (site / "shapes-v1" / "seq-lora.html").read_text("utf-8")
    assert 'href="../shapes-v1/compare.html?a=joint-mtl&amp;b=seq-lora"' in entry_page
    index = (site / "index.html").read_text("utf-8")
    assert 'href="shapes-v1/compare.html?a=joint-mtl&amp;b=moe-router"' in index


def test_scatter_of_mft_against_forgetting(built: tuple[Path, Path, dict[str, Path]]) -> None:
    site, _, entries = built
    index = (site / "index.html").read_text("utf-8")
    svg = index[index.index('id="scatter-shapes-v1"') :]
    svg = svg[: svg.index("</svg>")]
    points = re.findall(
        r'<g class="point" data-name="([^"]+)".*?<circle cx="([^"]+)" cy="([^"]+)"', svg, re.S
    )
    assert sorted(p[0] for p in points) == SHAPES
    metrics = {
        name: json.loads((entries[name] / "results.json").read_text("utf-8"))["metrics"]
        for name in SHAPES
    }
    by_x = sorted(points, key=lambda p: float(p[1]))
    by_y = sorted(points, key=lambda p: float(p[2]))  # SVG y grows downwards
    assert [p[0] for p in by_x] == sorted(SHAPES, key=lambda n: (metrics[n]["mft"]["value"], n))
    forgetting = [metrics[p[0]]["forgetting"]["value"] for p in by_y]
    assert forgetting == sorted(forgetting, reverse=True)
    assert svg.count('class="whisker"') == 2 * len(SHAPES)


def test_reported_metric_names_must_be_known(tmp_path: Path) -> None:
    submissions = tmp_path / "submissions"
    write_reported_entry(submissions, "paper-only", reported=reported_block(ACC=53.0))
    with pytest.raises(SiteError, match=r"field reported.metrics: unknown metric 'ACC'"):
        site_build(submissions, tmp_path / "site")


def test_the_committed_reported_only_entry_renders(tmp_path: Path) -> None:
    """MLLM-CL's published LoRA-FT numbers: flagged, unranked, two decimals as published."""
    root = Path(__file__).resolve().parents[1]
    site = site_build(root / "submissions", tmp_path / "site").parent
    page = site / "mllm-cl-domain-v2" / "reported" / "lora-ft-paper.html"
    rows = cells_of(page, "metrics-table reported-metrics")
    assert [rows[k]["cells"][0] for k in ("last", "avg", "mft", "bwt")] == [
        "53.00",
        "61.13",
        "64.98",
        "\u221214.97",
    ]
    assert rows["fwt"]["cells"][0] == "\u2014" and "base model&#39;s row" in rows["fwt"]["cells"][1]
    text = page.read_text("utf-8")
    assert '<td class="num" data-step="5" data-task="rs">69.65</td>' in text
    assert 'data-step="0"' not in text  # the paper gives no base-model row
    data = json.loads((site / "leaderboard.json").read_text("utf-8"))
    entry = next(e for e in data["entries"] if e["name"] == "lora-ft-paper")
    assert entry["kind"] == "reported" and entry["rank_group"] is None
