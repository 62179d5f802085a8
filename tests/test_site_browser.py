"""The built leaderboard in a real headless Chromium (Playwright), loaded from ``file://``.

These tests fail, never skip, when Chromium is missing: the session fixture installs Debian's
``chromium`` with apt-get (CI machines start without it) and fails with a clear message if
that does not work.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Route, sync_playwright
from sitefixtures import (
    PAYLOAD,
    PAYLOAD_IMG,
    PAYLOAD_SCRIPT,
    PAYLOAD_SUITE,
    SHA40,
    write_board,
    write_payload_entry,
)

from benchmark.site.format import fmt_number, slug
from benchmark.site.render import site_build

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHAPES = ["joint-mtl", "moe-router", "replay-lora", "seq-lora", "small-base"]
BOARD = "#board-shapes-v1"


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's chromium; installed with apt-get when absent (fails, never skips)."""
    path = shutil.which("chromium")
    if path is not None:
        return path
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        try:
            subprocess.run(
                command, check=True, capture_output=True, text=True, env=env, timeout=600
            )
            error = None
        except (OSError, subprocess.SubprocessError) as exc:
            error = (getattr(exc, "stderr", None) or str(exc)).strip()[-500:]
        if error is not None:
            pytest.fail(
                f"the browser tests need Debian's chromium, and `{' '.join(command)}` failed: "
                f"{error}\nInstall it (apt-get update && apt-get install -y chromium) and run "
                "the tests again.",
                pytrace=False,
            )
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("apt-get installed chromium, but no `chromium` is on PATH", pytrace=False)
    return path


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("browser-site")
    write_board(root / "submissions")
    write_payload_entry(root / "submissions")
    return site_build(root / "submissions", root / "out").parent


@dataclass
class Watch:
    """What went wrong while pages were open: console errors, page errors, failed or
    non-file requests (those are aborted: nothing may leave the machine)."""

    problems: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


@pytest.fixture
def watch() -> Watch:
    return Watch()


def _open(browser: Browser, watch: Watch, *, javascript: bool = True) -> Iterator[Page]:
    context = browser.new_context(
        viewport={"width": 1366, "height": 900}, java_script_enabled=javascript
    )

    def route(route: Route) -> None:
        url = route.request.url
        watch.requests.append(url)
        if url.startswith("file://"):
            route.continue_()
        else:
            watch.problems.append(f"external request {url}")
            route.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("console", lambda m: m.type == "error" and watch.problems.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: watch.problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: watch.problems.append(f"failed: {r.url} {r.failure}"))
    yield page
    context.close()


@pytest.fixture
def page(browser: Browser, watch: Watch) -> Iterator[Page]:
    yield from _open(browser, watch)
    assert watch.problems == []


@pytest.fixture
def page_no_js(browser: Browser, watch: Watch) -> Iterator[Page]:
    yield from _open(browser, watch, javascript=False)
    assert watch.problems == []


def url(site: Path, relative: str) -> str:
    """The file:// address of a page of the site; ``relative`` may end in a ``?query``."""
    path, mark, query = relative.partition("?")
    return (site / path).as_uri() + mark + query


def column_values(page: Page, key: str) -> list[str]:
    """The data values of one metric column, visible rows only, top to bottom."""
    return page.eval_on_selector(
        BOARD,
        """(table, key) => {
            const index = Array.from(table.tHead.rows[0].cells)
                .findIndex((th) => th.dataset.key === key);
            return Array.from(table.tBodies[0].rows)
                .filter((row) => !row.hidden)
                .map((row) => row.cells[index].dataset.value);
        }""",
        key,
    )


def visible_names(page: Page, table: str = BOARD) -> list[str]:
    return page.eval_on_selector(
        table,
        "(t) => Array.from(t.tBodies[0].rows).filter((r) => r.offsetParent !== null)"
        ".map((r) => r.dataset.name)",
    )


def test_every_page_loads_cleanly(page: Page, site: Path, watch: Watch) -> None:
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 15
    for path in pages:
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        font = page.evaluate("getComputedStyle(document.body).fontFamily")
        assert "system-ui" in font, f"{path}: stylesheet not applied"
        assert page.evaluate("document.styleSheets.length") == 1
    assert watch.problems == []
    assert all(u.startswith("file://") for u in watch.requests)
    assert any(u.endswith("/static/site.js") for u in watch.requests)


def test_sort_by_metric_columns(page: Page, site: Path) -> None:
    page.goto(url(site, "index.html"))
    header = f"{BOARD} th[data-key='{{}}'] button.sort"
    for key, first in (("last", "descending"), ("bwt", "descending"), ("forgetting", "ascending")):
        page.click(header.format(key))
        values = column_values(page, key)
        numbers = [float(v) for v in values if v]
        assert numbers == sorted(numbers, reverse=first == "descending"), (key, values)
        assert page.get_attribute(f"{BOARD} th[data-key='{key}']", "aria-sort") == first
        page.click(header.format(key))
        numbers = [float(v) for v in column_values(page, key) if v]
        assert numbers == sorted(numbers, reverse=first != "descending"), key
    # last ascending: small-base (45.0) first … joint-mtl (84.0) last
    page.click(header.format("last"))
    page.click(header.format("last"))
    assert page.get_attribute(f"{BOARD} th[data-key='last']", "aria-sort") == "ascending"
    assert visible_names(page) == [
        "small-base",
        "seq-lora",
        "replay-lora",
        "moe-router",
        "joint-mtl",
    ]
    # a null value (moe-router's fwt) stays last in both directions
    for _ in range(2):
        page.click(header.format("fwt"))
        assert column_values(page, "fwt")[-1] == ""
    # the numeric sort uses the data value: 7B sorts above 1.5B, not as text
    page.click(f"{BOARD} thead th:nth-child(4) button.sort")
    assert visible_names(page)[-1] == "small-base"
    # text columns sort too
    page.click(f"{BOARD} thead th:nth-child(2) button.sort")
    methods = page.eval_on_selector_all(
        f"{BOARD} tbody td.method a", "(els) => els.map((e) => e.textContent)"
    )
    assert methods == sorted(methods, key=str.lower)


FILTER_CASES = [
    ("baseModel", f"org/small-vlm@{SHA40}", ["small-base"]),
    ("family", "replay", ["replay-lora"]),
    ("family", "joint", ["joint-mtl"]),
    ("replay", "yes", ["replay-lora"]),
    ("replay", "no", ["joint-mtl", "moe-router", "seq-lora", "small-base"]),
    ("taskId", "yes", ["moe-router"]),
    ("extraData", "yes", ["small-base"]),
    ("verified", "self-reported", ["moe-router"]),
    ("verified", "verified", ["joint-mtl", "replay-lora", "seq-lora", "small-base"]),
]


def test_filters(page: Page, site: Path) -> None:
    """Each filter (base model, flags, method family) hides exactly the rows that differ."""
    page.goto(url(site, "index.html"))
    form = "form[data-table='board-shapes-v1']"
    assert page.is_visible(form)
    assert page.text_content(f"{form} .shown") == f"showing {len(SHAPES)} of {len(SHAPES)}"
    for attr, value, expected in FILTER_CASES:
        page.select_option(f"{form} select[data-attr='{attr}']", value)
        assert visible_names(page) == expected, (attr, value)
        shown = page.text_content(f"{form} .shown")
        assert shown == f"showing {len(expected)} of {len(SHAPES)}"
        page.click(f"{form} button[type='reset']")
        page.wait_for_function(
            "() => Array.from(document.querySelectorAll('#board-shapes-v1 tbody tr'))"
            ".every((r) => !r.hidden)"
        )
        assert visible_names(page) == SHAPES


def test_filters_apply_to_the_reported_block(page: Page, site: Path) -> None:
    """The base model and flag filters also narrow the suite's reported-only block; the
    'reported' state shows that block alone."""
    page.goto(url(site, "index.html"))
    form = "form[data-table='board-shapes-v1']"
    reported = "#reported-shapes-v1"
    assert visible_names(page, reported) == ["paper-table"]
    page.select_option(f"{form} select[data-attr='baseModel']", f"org/small-vlm@{SHA40}")
    assert visible_names(page, reported) == []
    page.select_option(f"{form} select[data-attr='baseModel']", f"org/tiny-vlm@{SHA40}")
    assert visible_names(page, reported) == ["paper-table"]
    page.select_option(f"{form} select[data-attr='verified']", "reported")
    assert visible_names(page) == [] and visible_names(page, reported) == ["paper-table"]
    page.select_option(f"{form} select[data-attr='verified']", "verified")
    assert visible_names(page, reported) == []
    page.click(f"{form} button[type='reset']")
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('#reported-shapes-v1 tbody tr'))"
        ".every((r) => !r.hidden)"
    )


def test_filters_combine(page: Page, site: Path) -> None:
    page.goto(url(site, "index.html"))
    form = "form[data-table='board-shapes-v1']"
    page.select_option(f"{form} select[data-attr='baseModel']", f"org/tiny-vlm@{SHA40}")
    page.select_option(f"{form} select[data-attr='verified']", "verified")
    assert visible_names(page) == ["joint-mtl", "replay-lora", "seq-lora"]
    page.click(f"{BOARD} th[data-key='last'] button.sort")
    page.click(f"{BOARD} th[data-key='last'] button.sort")  # sorting keeps the filter
    assert visible_names(page) == ["seq-lora", "replay-lora", "joint-mtl"]


def test_heatmap_values(page: Page, site: Path) -> None:
    results = json.loads(
        (site.parent / "submissions/shapes/seq-lora/results.json").read_text(encoding="utf-8")
    )
    page.goto(url(site, "shapes-v1/seq-lora.html"))
    columns = results["tasks"] + results["probes"]
    assert page.locator("svg.heatmap g.cell").count() == len(results["matrix"]) * len(columns)
    for step, row in enumerate(results["matrix"]):
        for task, value in zip(columns, row, strict=True):
            cell = page.locator(f"svg.heatmap g.cell[data-step='{step}'][data-task='{task}']")
            text = fmt_number(value)
            assert cell.locator("text").text_content() == text
            title = cell.locator("title").text_content()
            assert title.endswith(f"task {task}: {text}") and title.startswith(f"step {step} ")
            td = page.locator(f"table.matrix-table td[data-step='{step}'][data-task='{task}']")
            assert td.text_content().strip() == text
    trained = page.locator("svg.heatmap g.cell.trained")
    assert trained.count() == len(results["tasks"])
    # the line chart: one line per task with a legend
    assert page.locator("svg.linechart g.series").count() == len(columns)
    legend = page.locator("svg.linechart g.legend text").all_text_contents()
    assert legend == columns


def test_null_cell_in_heatmap(page: Page, site: Path) -> None:
    page.goto(url(site, f"{slug(PAYLOAD_SUITE)}-v1/payload-entry.html"))
    cell = page.locator("svg.heatmap g.cell.null")
    assert cell.count() == 1
    assert cell.locator("text").text_content() == "\u2014"
    assert "not evaluated" in cell.locator("title").text_content()


def test_injection_payloads_are_inert(page: Page, site: Path) -> None:
    section = f"{slug(PAYLOAD_SUITE)}-v1"
    pages = [
        "index.html",
        f"{section}/payload-entry.html",
        f"{section}/reported/payload-paper.html",
        f"{section}/compare.html",
    ]
    pages += [p.relative_to(site).as_posix() for p in sorted((site / section / "tasks").iterdir())]
    for relative in pages:
        page.goto(url(site, relative))
        page.wait_for_load_state("load")
        page.mouse.move(400, 400)
        assert page.evaluate("typeof window.__pwned") == "undefined", relative
        assert page.locator("img").count() == 0, relative
        assert page.locator("script").count() == 1, relative  # static/site.js only
        text = page.inner_text("body")
        for payload in (PAYLOAD_SCRIPT, PAYLOAD_IMG):
            assert payload in text, (relative, payload)
    page.goto(url(site, f"{section}/payload-entry.html"))
    body = page.inner_text("body")
    assert PAYLOAD.split(" javascript:")[0] in body and "javascript:window.__pwned=1" in body
    hrefs = page.eval_on_selector_all("a", "(els) => els.map((e) => e.getAttribute('href'))")
    assert not [h for h in hrefs if h and h.lower().startswith("javascript:")]
    # the payload base model is a filter option and filters like any other value
    page.goto(url(site, "index.html"))
    form = f"form[data-table='board-{section}']"
    page.select_option(f"{form} select[data-attr='baseModel']", f"{PAYLOAD}@{SHA40}")
    assert visible_names(page, f"[id='board-{section}']") == ["payload-entry"]
    assert page.evaluate("typeof window.__pwned") == "undefined"


def test_readable_without_javascript(page_no_js: Page, site: Path) -> None:
    page_no_js.goto(url(site, "index.html"))
    assert visible_names(page_no_js) == SHAPES  # the full table, in rank order
    assert not page_no_js.is_visible("form.filters")
    assert page_no_js.locator("th button.sort").count() == 0
    text = page_no_js.inner_text(BOARD)
    assert "84.0" in text and "82.5 \u2013 85.5" in text


def test_task_page_chart(page: Page, site: Path) -> None:
    page.goto(url(site, "shapes-v1/tasks/count.html"))
    assert page.locator("svg.linechart g.series").count() == len(SHAPES)
    rows = page.locator("table.task-table tbody tr")
    assert rows.count() == len(SHAPES)
    assert page.locator("table.task-table td.trained").count() == len(SHAPES)


# --------------------------------------------------------------------------- issue 18


def test_scatter_hover_shows_the_entry(page: Page, site: Path) -> None:
    """One labelled point per entry (mft right, forgetting up); hovering names the entry
    below the chart and highlights its row in the table."""
    page.goto(url(site, "index.html"))
    svg = "svg#scatter-shapes-v1"
    names = page.eval_on_selector_all(f"{svg} g.point", "(gs) => gs.map((g) => g.dataset.name)")
    assert sorted(names) == SHAPES
    box = {
        name: page.locator(f"{svg} g.point[data-name='{name}'] circle").bounding_box()
        for name in SHAPES
    }
    # joint-mtl: the most plasticity (mft 84) and no forgetting: rightmost and lowest
    assert max(box, key=lambda n: box[n]["x"]) == "joint-mtl"
    assert max(box, key=lambda n: box[n]["y"]) == "joint-mtl"
    # small-base forgets most (forgetting +20): the highest point
    assert min(box, key=lambda n: box[n]["y"]) == "small-base"
    output = "output.hovered[data-for='scatter-shapes-v1']"
    for name, method in (("seq-lora", "Sequential LoRA"), ("replay-lora", "Replay LoRA")):
        page.hover(f"{svg} g.point[data-name='{name}'] circle")
        text = page.text_content(output)
        assert text.startswith(f"{method} ({name}): mft ") and "forgetting" in text
        highlighted = page.eval_on_selector_all(
            f"{BOARD} tbody tr.highlight", "(rows) => rows.map((r) => r.dataset.name)"
        )
        assert highlighted == [name]
        labels = page.locator(f"{svg} g.point[data-name='{name}'] text").text_content()
        assert labels == method
    page.mouse.move(5, 5)
    assert page.locator(f"{BOARD} tbody tr.highlight").count() == 0


def results_of(site: Path, suite: str, name: str) -> dict:
    path = site.parent / "submissions" / suite / name / "results.json"
    return json.loads(path.read_text(encoding="utf-8"))


def expected_difference(a: dict, b: dict) -> dict[tuple[int, str], float | None]:
    """b − a per (step, task) over the columns both have, None where either is missing (what
    the static pair pages showed)."""
    columns_a, columns_b = a["tasks"] + a["probes"], b["tasks"] + b["probes"]
    shared = [c for c in columns_a if c in columns_b]
    cells = {}
    for step, (row_a, row_b) in enumerate(zip(a["matrix"], b["matrix"], strict=True)):
        for task in shared:
            x, y = row_a[columns_a.index(task)], row_b[columns_b.index(task)]
            cells[(step, task)] = None if x is None or y is None else y - x
    return cells


def shown_difference(page: Page) -> dict[tuple[int, str], tuple[str, str]]:
    cells = page.eval_on_selector_all(
        "table.diff-table td",
        "(tds) => tds.map((td) => [td.dataset.step, td.dataset.task, td.dataset.value,"
        " td.textContent])",
    )
    return {(int(step), task): (value, text) for step, task, value, text in cells}


def check_pair(page: Page, site: Path, section: str, suite: str, a: str, b: str) -> None:
    page.goto(url(site, f"{section}/compare.html?a={a}&b={b}"))
    expected = expected_difference(results_of(site, suite, a), results_of(site, suite, b))
    shown = shown_difference(page)
    assert set(shown) == set(expected), (a, b)
    for cell, value in expected.items():
        data, text = shown[cell]
        if value is None:
            assert (data, text) == ("", "\u2014"), (a, b, cell)  # missing, not 0
        else:
            assert float(data) == value, (a, b, cell)
            assert text == fmt_number(value, signed=True), (a, b, cell)
    assert page.locator(".compare-message").is_hidden()
    for name in (a, b):
        figure = page.locator(f".matrix-pair figure[data-entry='{name}'] svg.heatmap")
        assert figure.count() == 1
    assert page.locator(".compare-summary thead th a").all_text_contents() == [
        method_of(site, suite, name) for name in (a, b)
    ]


def method_of(site: Path, suite: str, name: str) -> str:
    data = json.loads((site / "leaderboard.json").read_text(encoding="utf-8"))
    return next(e["submission"]["method"] for e in data["entries"] if e["name"] == name)


def test_compare_page_shows_b_minus_a(page: Page, site: Path) -> None:
    """Every ordered pair of a section: the difference cells are b − a as the old static pair
    pages computed them, missing cells stay missing; the payload pair has a null cell."""
    for a in SHAPES:
        for b in SHAPES:
            if a != b:
                check_pair(page, site, "shapes-v1", "shapes", a, b)
    section = f"{slug(PAYLOAD_SUITE)}-v1"
    suite = next(p.name for p in (site.parent / "submissions").iterdir()
                 if (p / "payload-entry").is_dir())  # fmt: skip
    for a, b in (("payload-entry", "payload-two"), ("payload-two", "payload-entry")):
        check_pair(page, site, section, suite, a, b)
        assert page.locator("table.diff-table td.null").count() >= 1


def test_compare_view(page: Page, site: Path) -> None:
    """Pick two entries on the index: the compare page shows both matrices, the difference
    and both curves per task; its own selects change the pair and the address."""
    page.goto(url(site, "index.html"))
    form = "form.compare[data-href='shapes-v1/compare.html']"
    assert page.is_visible(form)
    page.select_option(f"{form} select[data-role='a']", "small-base")
    page.select_option(f"{form} select[data-role='b']", "seq-lora")
    page.click(f"{form} a.go")
    page.wait_for_load_state("load")
    assert page.url.endswith("/shapes-v1/compare.html?a=small-base&b=seq-lora")
    a = results_of(site, "shapes", "small-base")
    cells = len(a["matrix"]) * len(a["tasks"] + a["probes"])
    assert page.locator("svg.heatmap").count() == 2
    for name in ("seq-lora", "small-base"):
        heat = page.locator(f"figure[data-entry='{name}'] svg.heatmap g.cell")
        assert heat.count() == cells
        value = results_of(site, "shapes", name)["matrix"][1][0]
        cell = heat.locator("xpath=self::*[@data-step='1' and @data-task='colour']")
        assert cell.locator("text").text_content() == fmt_number(value)
    charts = page.locator(".curve-grid figure")
    assert charts.count() == len(a["tasks"] + a["probes"])
    for k in range(charts.count()):
        series = charts.nth(k).locator("g.series")
        assert series.count() == 2
        assert series.nth(0).locator("circle").count() == len(a["matrix"])
    legend = charts.nth(0).locator("g.legend text").all_text_contents()
    assert legend == [method_of(site, "shapes", n) for n in ("small-base", "seq-lora")]
    methods = [method_of(site, "shapes", n) for n in ("small-base", "seq-lora")]
    assert page.text_content("h1") == f"{methods[0]} vs {methods[1]}"
    # the page's own selects: the address follows, so the comparison can be linked
    page.select_option("form.compare-pick select[data-role='b']", "joint-mtl")
    assert page.url.endswith("/shapes-v1/compare.html?a=small-base&b=joint-mtl")
    assert page.locator("figure[data-entry='joint-mtl'] svg.heatmap").count() == 1
    page.go_back()
    assert page.url.endswith("?a=small-base&b=seq-lora")
    assert page.locator("figure[data-entry='seq-lora'] svg.heatmap").count() == 1
    # on the index, the same entry twice gives no link
    page.goto(url(site, "index.html"))
    page.select_option(f"{form} select[data-role='a']", "seq-lora")
    page.select_option(f"{form} select[data-role='b']", "seq-lora")
    assert page.get_attribute(f"{form} a.go", "href") is None
    page.select_option(f"{form} select[data-role='b']", "small-base")
    assert page.get_attribute(f"{form} a.go", "href") == (
        "shapes-v1/compare.html?a=seq-lora&b=small-base"
    )


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?a=seq-lora&b=no-such-entry", "No entry named \u201cno-such-entry\u201d"),
        ("?a=%3Cimg%20src%3Dx%3E&b=seq-lora", "No entry named \u201c<img src=x>\u201d"),
        ("?a=seq-lora", "No entry named \u201c\u201d"),
        ("?a=seq-lora&b=seq-lora", "A and B are the same entry (seq-lora)"),
    ],
)
def test_compare_page_refuses_a_bad_pair(page: Page, site: Path, query: str, message: str) -> None:
    """An unknown name or the same entry twice: one clear message, nothing drawn, no error
    (the fixture fails the test on any console or page error)."""
    page.goto(url(site, f"shapes-v1/compare.html{query}"))
    shown = page.locator(".compare-message")
    assert shown.is_visible() and shown.text_content().startswith(message)
    assert page.locator(".compare-view").is_hidden()
    assert page.locator("svg.heatmap, table.diff-table, img").count() == 0
    assert page.is_visible("form.compare-pick")
    # picking a valid pair recovers
    page.select_option("form.compare-pick select[data-role='a']", "joint-mtl")
    page.select_option("form.compare-pick select[data-role='b']", "small-base")
    assert shown.is_hidden() and page.locator("table.diff-table").count() == 1


def test_compare_page_without_javascript(page_no_js: Page, site: Path) -> None:
    page_no_js.goto(url(site, "shapes-v1/compare.html?a=joint-mtl&b=seq-lora"))
    assert "JavaScript, which is off" in page_no_js.inner_text("main")
    links = page_no_js.eval_on_selector_all(
        "main ul.compare-links a", "(els) => els.map((e) => e.getAttribute('href'))"
    )
    assert links == [f"../shapes-v1/{name}.html" for name in SHAPES]
    assert not page_no_js.is_visible("form.compare-pick")
    assert not page_no_js.is_visible(".compare-view")


PHONE_PAGES = [
    "index.html",
    "shapes-v1/seq-lora.html",
    "shapes-v1/compare.html?a=joint-mtl&b=seq-lora",
    f"{slug(PAYLOAD_SUITE)}-v1/compare.html?a=payload-entry&b=payload-two",
    "shapes-v1/reported/paper-table.html",
    "shapes-v1/tasks/count.html",
    "routing-v1/probe-one.html",
    f"{slug(PAYLOAD_SUITE)}-v1/payload-entry.html",
]


@pytest.mark.parametrize("relative", PHONE_PAGES)
def test_nothing_overflows_a_phone(
    browser: Browser, watch: Watch, site: Path, relative: str, tmp_path: Path
) -> None:
    """At 390 px the page is no wider than the screen: wide tables scroll inside their own
    box, and the metric-definition table stacks."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    try:
        page = context.new_page()
        page.on("pageerror", lambda e: watch.problems.append(f"page error: {e}"))
        page.goto(url(site, relative))
        page.wait_for_load_state("load")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, relative
        assert page.evaluate("window.innerWidth") == 390
        shot = tmp_path / "phone.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        if relative == "index.html":
            wrap = page.locator(f".table-wrap:has({BOARD})")
            assert wrap.evaluate("(w) => w.scrollWidth > w.clientWidth")  # scrolls inside
            assert wrap.evaluate("(w) => w.getBoundingClientRect().right") <= 390
            # the definitions table stacks: each row's cells sit one under the other
            tops = page.eval_on_selector(
                "table.definitions tbody tr",
                "(tr) => Array.from(tr.children).map((c) => c.getBoundingClientRect().top)",
            )
            assert tops == sorted(tops) and len(set(tops)) == len(tops)
    finally:
        context.close()
    assert watch.problems == []
