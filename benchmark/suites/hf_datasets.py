"""Prepared records as a Hugging Face ``datasets.Dataset`` — how this field loads evaluation data.

``load_task("shapes", "colour")`` reads the task's prepared Parquet file with the ``datasets``
Parquet builder and gives one row per record: the record's fields, plus ``image`` (a list of
``datasets.Image`` values, decoded lazily to PIL images when a row is read; paths resolved
against the suite's data directory, never against the working directory). Needs the
``datasets`` extra: ``pip install 'mllmcl-bench[datasets]'``.
"""

from __future__ import annotations

from typing import Any

from benchmark.errors import BenchmarkError
from benchmark.paths import suite_data_dir
from benchmark.suites.prepare import ensure_prepared, records_path
from benchmark.suites.registry import load_suite


def load_task(suite_id: str, task: str, split: str = "test") -> Any:
    """The prepared ``split`` of ``suite_id``/``task`` as a ``datasets.Dataset``.

    The suite is prepared first if it is the built-in offline one (as ``evaluate`` does);
    others must have been prepared with ``mllmcl-bench tasks prepare``.
    """
    try:
        from datasets import Dataset, Image, Sequence
    except ImportError:
        raise BenchmarkError(
            "load_task needs the datasets library: pip install 'mllmcl-bench[datasets]'"
        ) from None
    suite = load_suite(suite_id)
    if task not in suite.columns():
        raise BenchmarkError(
            f"{suite_id} has no task {task!r}; tasks: {', '.join(suite.columns())}"
        )
    ensure_prepared(suite)
    path = records_path(suite.id, task, split)
    if not path.is_file():
        raise BenchmarkError(f"{suite_id}/{task}: no prepared {split!r} split ({path})")
    data_dir = suite_data_dir(suite.id)
    dataset = Dataset.from_parquet(str(path), keep_in_memory=False)

    def resolve(batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        return {"image": [[str(data_dir / rel) for rel in paths] for paths in batch["images"]]}

    dataset = dataset.map(resolve, batched=True, desc=None)
    return dataset.cast_column("image", Sequence(Image()))
