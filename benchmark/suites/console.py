"""What the ``tasks`` subcommands print: the list of suites, one suite in detail, and
preparing a suite with progress shown."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from benchmark.paths import suite_data_dir
from benchmark.suites.prepare import prepare_suite, read_manifest, read_stats, records_path
from benchmark.suites.records import iter_records
from benchmark.suites.registry import Suite, Task, list_suites, split_spec


def _prepared(suite: Suite) -> dict[str, Any] | None:
    path = suite_data_dir(suite.id) / "manifest.json"
    return read_manifest(suite.id) if path.is_file() else None


def list_text() -> str:
    """One line per suite: id, version, tasks, status, prepared or not."""
    rows = [("suite", "version", "tasks", "status", "prepared", "title")]
    for suite in list_suites():
        manifest = _prepared(suite)
        if manifest is None:
            prepared = "no"
        elif manifest.get("suite_version") != suite.version:
            prepared = f"stale (v{manifest.get('suite_version')})"
        else:
            prepared = "yes"
        rows.append(
            (
                suite.id,
                str(suite.version),
                str(len(suite.tasks)),
                suite.status,
                prepared,
                suite.title,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1]
        for row in rows
    ]
    return "\n".join(line.rstrip() for line in lines)


def _sample_prompt(suite: Suite, task: Task) -> str | None:
    path = records_path(suite.id, task.id)
    if not path.is_file():
        return None
    record = next(iter_records(path), None)
    if record is None:
        return None
    lines = [f"      uid:      {record.uid}"]
    lines += [f"      image:    {image}" for image in record.images]
    lines.append("      question: " + record.question.replace("\n", "\n                "))
    lines.append(f"      answers:  {list(record.answers)}   (scorer {record.scorer})")
    return "\n".join(lines)


def _stats_line(split_stats: dict[str, Any]) -> str:
    chars = split_stats.get("answer_chars", {})
    choices = split_stats.get("choices", {})
    share = ", ".join(f"{k}: {v}" for k, v in choices.items())
    return f"answer chars median {chars.get('median')} (max {chars.get('max')}); choices {share}"


def show_text(spec: str) -> str:
    """A suite (or ``SUITE/TASK``): source, orders, and per task counts, scorer, a sample."""
    suite, only = split_spec(spec)
    manifest = _prepared(suite)
    stats = read_stats(suite.id) if manifest else None
    verified = "verified" if suite.source.verified else "NOT verified against upstream files"
    out = [
        f"{suite.id} v{suite.version} — {suite.title}  [{suite.status}]",
        f"  source: {suite.source.module}"
        + (
            f" ({suite.source.repo_id} @ {suite.source.revision or 'revision not pinned'})"
            if suite.source.repo_id
            else ""
        )
        + f"; layout {verified}",
    ]
    for extra in suite.source.options.get("extra_repos", []) or []:
        revision = extra.get("revision") or "revision not pinned"
        out.append(
            f"  also: {extra.get('repo_id')} @ {revision} (mirror folder "
            f"{extra.get('subdir', '.')}/)"
        )
    for extra in suite.source.options.get("extra_files", []) or []:
        pin = f"sha256 {extra.get('sha256')}" if extra.get("sha256") else "sha256 not pinned"
        out.append(f"  also: {extra.get('url')} ({pin}; mirror file {extra.get('path')})")
    for repo in (manifest or {}).get("source", {}).get("upstream", []) or []:
        if repo.get("url"):
            out.append(f"  prepared from {repo['url']} (sha256 {repo.get('resolved_sha256')})")
            continue
        resolved = repo.get("resolved_revision") or repo.get("revision")
        if resolved:
            out.append(f"  prepared from {repo.get('repo_id')} @ {resolved}")
    out += [f"  order {name}: {' → '.join(order)}" for name, order in suite.orders.items()]
    if suite.probes:
        out.append(f"  probes (evaluated at every step, never trained): {', '.join(suite.probes)}")
    if manifest is None:
        out.append(f"  not prepared: run `mllmcl-bench tasks prepare {suite.id}`")
    else:
        out.append(f"  prepared in {suite_data_dir(suite.id)}")
    for task in suite.tasks:
        if only is not None and task.id != only.id:
            continue
        counts = (manifest or {}).get("counts", {}).get(task.id, {})
        count_text = ", ".join(f"{split} {n}" for split, n in counts.items()) or "not prepared"
        out.append("")
        out.append(f"  {task.id}: {task.name}")
        out.append(f"    items:    {count_text}")
        out.append(f"    scorer:   {task.scorer}; max_new_tokens {task.max_new_tokens}")
        if manifest is not None:
            out.append(f"    hash:     {manifest['task_hashes'].get(task.id, '?')}")
            for name, digest in (manifest.get("task_files") or {}).get(task.id, {}).items():
                held = f"sha256 {digest}" if digest else "inside an archive"
                out.append(f"    read:     {name} ({held})")
        if stats and task.id in stats and "test" in stats[task.id]:
            out.append(f"    stats:    {_stats_line(stats[task.id]['test'])}")
        sample = _sample_prompt(suite, task) if manifest else None
        if sample:
            out.append("    sample (test):")
            out.append(sample)
    return "\n".join(out)


def prepare(spec: str, from_dir: Path | None = None) -> str:
    """Prepare a suite with a progress bar per task and split; return a summary."""
    suite, _ = split_spec(spec)
    bars: dict[str, tqdm] = {}

    def progress(label: str, count: int) -> None:
        bar = bars.get(label)
        if bar is None:
            for other in bars.values():
                other.close()
            bar = bars[label] = tqdm(
                desc=f"{suite.id}/{label}",
                unit=" rec",
                file=sys.stderr,
                leave=False,
                disable=None,
                mininterval=0.5,
            )
        bar.update(count - bar.n)

    try:
        manifest = prepare_suite(suite, from_dir=from_dir, progress=progress)
    finally:
        for bar in bars.values():
            bar.close()
    total = sum(n for splits in manifest["counts"].values() for n in splits.values())
    lines = [f"prepared {suite.id} v{suite.version}: {total} records in {suite_data_dir(suite.id)}"]
    for task_id, splits in manifest["counts"].items():
        counts = ", ".join(f"{split} {n}" for split, n in splits.items())
        lines.append(f"  {task_id}: {counts}  (task hash {manifest['task_hashes'][task_id][:12]})")
    return "\n".join(lines)
