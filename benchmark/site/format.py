"""Formatting numbers, names and links for the pages."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from benchmark.entry.results import MetricResult
from benchmark.metrics.definitions import metric_keys, metric_table
from benchmark.site.entries import DASH, MINUS

SAFE_SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]{0,60}$")
HTTPS_URL = re.compile(r"^https://[^\s<>\"'`\\]+$")


# --------------------------------------------------------------------------- formatting


def slug(name: str) -> str:
    """A file-name-safe form of a suite or task name (task names come from results.json):
    the name itself when it is one, else its safe characters and a hash of the whole name."""
    if SAFE_SLUG.fullmatch(name):
        return name
    cleaned = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-._")[:40] or "x"
    return f"{cleaned}-{hashlib.sha256(name.encode('utf-8')).hexdigest()[:8]}"


def fmt_number(value: float | None, *, signed: bool = False, digits: int = 1) -> str:
    if value is None or not math.isfinite(value):
        return DASH
    text = f"{abs(value):.{digits}f}"
    if float(text) == 0:
        return text
    if value < 0:
        return MINUS + text
    return ("+" if signed else "") + text


def fmt_parameters(count: int | None) -> str:
    if count is None:
        return DASH
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if count >= scale:
            number = count / scale
            text = f"{number:.0f}" if number >= 100 else f"{number:.1f}".removesuffix(".0")
            return text + suffix
    return str(count)


def fmt_seconds(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def https_url(url: str | None) -> str | None:
    """Only https:// links leave the site (the schema allows no others; checked again here)."""
    return url if url is not None and HTTPS_URL.fullmatch(url) else None


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def ordered_metrics(metrics: Mapping[str, MetricResult]) -> list[tuple[str, MetricResult]]:
    """The metrics of a results.json in the order of the metric table, unknown ones last."""
    known = list(metric_keys())
    return sorted(
        metrics.items(),
        key=lambda kv: (known.index(kv[0]) if kv[0] in known else len(known), kv[0]),
    )


@dataclass(frozen=True)
class MetricCell:
    """A metric as a table cell: sortable data value, text, interval or the reason it is null."""

    key: str
    data: str  # "" when null: sorts last
    text: str
    interval: str
    reason: str | None
    title: str

    @staticmethod
    def of(key: str, metric: MetricResult | None) -> MetricCell:
        info = next((d for d in metric_table() if d.key == key), None)
        signed = info.signed if info else False
        if metric is None or metric.value is None:
            reason = (metric.reason if metric is not None else None) or "not given"
            return MetricCell(key, "", DASH, "", reason, f"{key}: {reason}")
        interval = ""
        if metric.ci95 is not None:
            low, high = metric.ci95
            interval = f"{fmt_number(low, signed=signed)} – {fmt_number(high, signed=signed)}"
        value = fmt_number(metric.value, signed=signed)
        title = f"{key} = {value}" + (f", 95% interval {interval}" if interval else "")
        return MetricCell(key, repr(float(metric.value)), value, interval, None, title)
