"""The JSON Schemas of an entry's files, kept in the repository's ``schemas/``.

``python -m benchmark.entry.schemas`` refreshes them (tests fail when they are stale).
"""

from __future__ import annotations

import json
from pathlib import Path

from benchmark.entry.results import results_json_schema
from benchmark.entry.submission import submission_json_schema
from benchmark.paths import repo_root


def write_json_schemas(directory: Path) -> list[Path]:
    """Write submission.schema.json and results.schema.json (kept in the repo's schemas/)."""
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for name, schema in (
        ("submission.schema.json", submission_json_schema()),
        ("results.schema.json", results_json_schema()),
    ):
        path = directory / name
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        out.append(path)
    return out


if __name__ == "__main__":  # python -m benchmark.entry.schemas: refresh schemas/
    for written in write_json_schemas(repo_root() / "schemas"):
        print(written)
