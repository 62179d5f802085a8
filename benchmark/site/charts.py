"""The heatmap and line charts of an entry, as data the templates draw as SVG."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from benchmark.site.entries import DASH, Entry
from benchmark.site.format import fmt_number, shorten

# A qualitative palette (chosen for this site) and a sequential scale for the heatmap.
PALETTE = (
    "#2b6cb0",
    "#d1495b",
    "#e0a030",
    "#2a9d8f",
    "#7b4fa0",
    "#5c6b2e",
    "#e07a5f",
    "#3d405b",
    "#8c564b",
    "#17becf",
)
DASHES = ("", "6 3", "2 3", "8 3 2 3")
HEAT_STOPS = ((0.0, (247, 244, 235)), (0.5, (132, 186, 196)), (1.0, (24, 66, 104)))


# --------------------------------------------------------------------------- charts


def heat_colour(value: float) -> tuple[str, str]:
    """Fill and text colour of a heatmap cell for an accuracy in 0..100."""
    t = min(max(value / 100.0, 0.0), 1.0)
    rgb = HEAT_STOPS[-1][1]
    for (t0, c0), (t1, c1) in itertools.pairwise(HEAT_STOPS):
        if t <= t1:
            f = 0.0 if t1 == t0 else (t - t0) / (t1 - t0)
            rgb = tuple(round(a + (b - a) * f) for a, b in zip(c0, c1, strict=True))
            break
    luminance = (0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]) / 255
    return "#{:02x}{:02x}{:02x}".format(*rgb), ("#ffffff" if luminance < 0.5 else "#1a202c")


@dataclass(frozen=True)
class HeatCell:
    x: float
    y: float
    step: int
    task: str
    text: str
    title: str
    fill: str
    ink: str
    trained: bool
    probe: bool
    null: bool


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str
    title: str
    kind: str = ""


@dataclass(frozen=True)
class PlotFrame:
    """A chart's size and, inside it, the plot area's edges (where the axes and grid go)."""

    width: float
    height: float
    left: float
    top: float
    right: float
    bottom: float


@dataclass(frozen=True)
class Heatmap:
    width: float
    height: float
    cell_w: float
    cell_h: float
    cells: list[HeatCell]
    columns: list[Label]
    rows: list[Label]
    separator: float | None  # x of the line between tasks and probes


def cell_reason(entry: Entry, step: int, task: str) -> str:
    cell = next((c for c in entry.results.cells if c.step == step and c.task == task), None)
    if cell is None:
        return "not evaluated"
    if cell.n == 0:
        return "no items"
    return f"no accuracy ({cell.n} items)"


CAPTION_LABELS = {
    "Bleu_1": "BLEU-1",
    "Bleu_2": "BLEU-2",
    "Bleu_3": "BLEU-3",
    "Bleu_4": "BLEU-4",
    "METEOR": "METEOR",
    "ROUGE_L": "ROUGE-L",
    "CIDEr": "CIDEr",
}


def caption_note(entry: Entry, step: int, task: str) -> str:
    """For a caption cell: its number is the Average of these metrics, listed ("" otherwise)."""
    cell = next((c for c in entry.results.cells if c.step == step and c.task == task), None)
    if cell is None or not cell.metrics:
        return ""
    parts = [f"{label} {fmt_number(cell.metrics[k])}" for k, label in CAPTION_LABELS.items()
             if k in cell.metrics]  # fmt: skip
    return f"Average of {', '.join(parts)}"


def step_name(entry: Entry, step: int) -> str:
    return "base model" if step == 0 else f"after learning {entry.results.tasks[step - 1]}"


def heatmap(entry: Entry) -> Heatmap:
    """Cells, labels and size of the accuracy-matrix heatmap (rows: steps; columns: tasks,
    then probes after a small gap)."""
    tasks, probes = entry.results.tasks, entry.results.probes
    columns_all = [*tasks, *probes]
    col_text = [shorten(t, 22) for t in columns_all]
    row_text = [
        "0 · base" if i == 0 else f"{i} · {shorten(tasks[i - 1], 16)}"
        for i in range(len(entry.results.matrix))
    ]
    cw, ch, gap, char = 64.0, 34.0, 12.0, 7.0  # char: rough width of one label character
    left = 12.0 + char * max(len(t) for t in row_text)
    top = 20.0 + 0.58 * char * max((len(t) for t in col_text), default=4)
    cells: list[HeatCell] = []
    columns: list[Label] = []
    for j, task in enumerate(columns_all):
        probe = j >= len(tasks)
        x = left + j * cw + (gap if probe else 0.0)
        columns.append(Label(x + cw / 2 - 4, top - 8, col_text[j], task, "probe" if probe else ""))
        for i, row in enumerate(entry.results.matrix):
            value = row[j]
            where = f"step {i} ({step_name(entry, i)}), {'probe' if probe else 'task'} {task}"
            trained = i == j + 1 and not probe
            if value is None:
                reason = cell_reason(entry, i, task)
                cells.append(
                    HeatCell(
                        x,
                        top + i * ch,
                        i,
                        task,
                        DASH,
                        f"{where}: {DASH} {reason}",
                        "#eceff3",
                        "#5a6473",
                        trained,
                        probe,
                        True,
                    )
                )
            else:
                fill, ink = heat_colour(value)
                text = fmt_number(value)
                note = caption_note(entry, i, task)
                cells.append(
                    HeatCell(
                        x,
                        top + i * ch,
                        i,
                        task,
                        text,
                        f"{where}: {text}" + (f" ({note})" if note else ""),
                        fill,
                        ink,
                        trained,
                        probe,
                        False,
                    )
                )
    rows = [
        Label(left - 8, top + i * ch + ch / 2, text, step_name(entry, i))
        for i, text in enumerate(row_text)
    ]
    overhang = 0.82 * char * len(col_text[-1]) - cw / 2 if col_text else 0.0
    width = left + len(columns_all) * cw + (gap if probes else 0.0) + max(overhang, 0.0) + 6
    height = top + len(entry.results.matrix) * ch + 4
    separator = left + len(tasks) * cw + gap / 2 if probes else None
    return Heatmap(round(width, 1), round(height, 1), cw, ch, cells, columns, rows, separator)


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    title: str


@dataclass(frozen=True)
class Series:
    name: str
    colour: str
    dash: str
    paths: list[str]
    points: list[Point]
    legend_y: float
    legend_text: str
    css: str = ""


@dataclass(frozen=True)
class LineChart(PlotFrame):
    legend_x: float
    x_ticks: list[Label]
    y_ticks: list[Label]
    series: list[Series]
    x_label: str
    y_label: str
    title: str


def line_chart(
    lines: Sequence[tuple[str, Sequence[float | None], str]], *, title: str, steps: int
) -> LineChart:
    """Accuracy (0..100) against step 0..``steps``; one line per (name, values, css class)."""
    left, top, plot_w = 52.0, 16.0, max(300.0, min(640.0, 90.0 * max(steps, 1)))
    plot_h = 260.0
    right, bottom = left + plot_w, top + plot_h
    legend_x = right + 28
    height = max(bottom + 46, top + 22 * len(lines) + 10)
    width = legend_x + 230

    def xy(i: int, v: float) -> tuple[float, float]:
        return (left + plot_w * i / max(steps, 1), bottom - plot_h * v / 100.0)

    series: list[Series] = []
    for k, (name, values, css) in enumerate(lines):
        colour = PALETTE[k % len(PALETTE)]
        dash = DASHES[(k // len(PALETTE)) % len(DASHES)] if css != "probe" else "5 4"
        segments: list[list[tuple[float, float]]] = [[]]
        points: list[Point] = []
        for i, v in enumerate(values):
            if v is None:
                segments.append([])
                continue
            x, y = xy(i, v)
            segments[-1].append((x, y))
            points.append(Point(x, y, f"{name}, step {i}: {fmt_number(v)}"))
        ds = ["M " + " L ".join(f"{x:.1f} {y:.1f}" for x, y in seg) for seg in segments if seg]
        series.append(
            Series(name, colour, dash, ds, points, top + 8 + 22 * k, shorten(name, 30), css)
        )
    x_ticks = [Label(xy(i, 0)[0], bottom + 18, str(i), f"step {i}") for i in range(steps + 1)]
    y_ticks = [Label(left - 8, xy(0, v)[1], str(v), "") for v in range(0, 101, 20)]
    return LineChart(
        width,
        height,
        left,
        top,
        right,
        bottom,
        legend_x,
        x_ticks,
        y_ticks,
        series,
        "step (0 = base model)",
        "accuracy",
        title,
    )


# --------------------------------------------------------------------------- scatter


@dataclass(frozen=True)
class ScatterPoint:
    name: str  # entry id: data-name, to match the table's row
    label: str
    title: str  # the hover text: the entry and both values with their intervals
    colour: str
    x: float
    y: float
    x_whisker: tuple[float, float] | None
    y_whisker: tuple[float, float] | None
    label_x: float
    label_y: float
    anchor: str  # text-anchor of the label: start, or end near the right edge


@dataclass(frozen=True)
class Scatter(PlotFrame):
    x_ticks: list[Label]
    y_ticks: list[Label]
    points: list[ScatterPoint]
    x_label: str
    y_label: str
    title: str
    missing: list[str]  # entries without both values: not drawn


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    span = max(high - low, 1e-9)
    raw = span / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    return [round(first + k * step, 6) for k in range(int((high - first) / step + 1e-9) + 1)]


def _range(values: Sequence[float]) -> tuple[float, float]:
    low, high = min(values), max(values)
    pad = max((high - low) * 0.08, 1.0)
    return low - pad, high + pad


def scatter(entries: Sequence[Entry], *, x_key: str = "mft", y_key: str = "forgetting") -> Scatter:
    """One labelled point per entry: ``x_key`` (plasticity) against ``y_key`` (forgetting),
    with each value's 95% interval as a whisker. Entries lacking either value are listed in
    ``missing`` instead."""
    left, top, plot_w, plot_h = 60.0, 16.0, 520.0, 320.0
    right, bottom = left + plot_w, top + plot_h
    drawn: list[tuple[Entry, float, float, tuple[float, float] | None, tuple[float, float] | None]]
    drawn, missing = [], []
    for entry in entries:
        mx, my = entry.metric(x_key), entry.metric(y_key)
        if mx is None or my is None or mx.value is None or my.value is None:
            missing.append(entry.name)
            continue
        drawn.append((entry, mx.value, my.value, mx.ci95, my.ci95))
    xs = [v for _, x, _, cx, _ in drawn for v in (x, *(cx or ()))] or [0.0, 100.0]
    ys = [v for _, _, y, _, cy in drawn for v in (y, *(cy or ()))] or [0.0, 10.0]
    x0, x1 = _range(xs)
    y0, y1 = _range(ys)

    def px(v: float) -> float:
        return round(left + plot_w * (v - x0) / (x1 - x0), 1)

    def py(v: float) -> float:
        return round(bottom - plot_h * (v - y0) / (y1 - y0), 1)

    points = []
    for k, (entry, x, y, cx, cy) in enumerate(drawn):
        method = entry.submission.method
        text = f"{x_key} {fmt_number(x)}" + (
            f" (95% {fmt_number(cx[0])} – {fmt_number(cx[1])})" if cx else ""
        )
        text += f", {y_key} {fmt_number(y, signed=True)}" + (
            f" (95% {fmt_number(cy[0], signed=True)} – {fmt_number(cy[1], signed=True)})"
            if cy
            else ""
        )
        near_edge = px(x) > right - 150
        points.append(
            ScatterPoint(
                entry.name,
                shorten(method, 24),
                f"{method} ({entry.name}): {text}",
                PALETTE[k % len(PALETTE)],
                px(x),
                py(y),
                (px(cx[0]), px(cx[1])) if cx else None,
                (py(cy[0]), py(cy[1])) if cy else None,
                px(x) - 7 if near_edge else px(x) + 7,
                py(y) - 7,
                "end" if near_edge else "start",
            )
        )
    x_ticks = [Label(px(v), bottom + 18, fmt_number(v), "") for v in _ticks(x0, x1)]
    y_ticks = [Label(left - 8, py(v), fmt_number(v, signed=True), "") for v in _ticks(y0, y1)]
    return Scatter(
        right + 24,
        bottom + 48,
        left,
        top,
        right,
        bottom,
        x_ticks,
        y_ticks,
        points,
        f"{x_key}: accuracy right after learning each task (plasticity) →",
        f"{y_key}: positive = forgetting ↑",
        f"Stability and plasticity: {x_key} against {y_key}, one point per entry, "
        "whiskers are 95% intervals",
        missing,
    )
