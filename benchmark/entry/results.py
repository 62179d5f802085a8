"""``results.json``: the typed results of an evaluated entry (written by the harness)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationError, model_validator

from benchmark._files import StrictModel, format_loc
from benchmark.entry.submission import SubmissionError

# --------------------------------------------------------------------------- results.json

RESULTS_SCHEMA = "mllmcl-bench/results/1"


class MetricResult(StrictModel):
    value: float | None
    ci95: tuple[float, float] | None = None
    reason: str | None = None


class CellResult(StrictModel):
    step: int = Field(ge=0)
    task: str
    n: int = Field(ge=0)
    accuracy: float | None
    parse_failures: int = Field(ge=0)
    predictions_sha256: str


class ProbeResult(StrictModel):
    task: str
    series: list[float | None]
    drop: float | None
    max_drop: float | None


class Provenance(StrictModel):
    harness: str
    backend: str
    trust_remote_code: bool = Field(
        False, description="the base model's own code from the hub ran (--trust-remote-code)"
    )
    step_backends: dict[str, str] | None = Field(
        None,
        description="step → backend, only when backends were mixed (--allow-mixed-backends)",
    )
    versions: dict[str, str]
    generation: dict[str, Any]
    chat_template_sha256: str | None
    checkpoints: list[dict[str, Any]]
    limit: int | None = None
    started: str
    finished: str
    wall_seconds: float
    generated: int = Field(0, description="predictions generated in this run (not cached)")


class Results(StrictModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    schema_: Literal["mllmcl-bench/results/1"] = Field(alias="schema")
    suite: str
    suite_version: int
    order: str
    task_hashes: dict[str, str]
    tasks: list[str]
    probes: list[str]
    matrix: list[list[float | None]]
    cells: list[CellResult]
    metrics: dict[str, MetricResult]
    probe_drops: list[ProbeResult] = Field(default_factory=list)
    metric_definitions: int
    bootstrap: dict[str, Any]
    verified: bool
    provenance: Provenance

    @model_validator(mode="after")
    def _shape(self) -> Results:
        width = len(self.tasks) + len(self.probes)
        if len(self.matrix) != len(self.tasks) + 1:
            raise ValueError(
                f"matrix: {len(self.matrix)} rows, expected T+1 = {len(self.tasks) + 1}"
            )
        for i, row in enumerate(self.matrix):
            if len(row) != width:
                raise ValueError(f"matrix[{i}]: {len(row)} columns, expected {width}")
            for value in row:
                if value is not None and not (0.0 <= value <= 100.0):
                    raise ValueError(f"matrix[{i}]: value {value} outside 0..100")
        return self


def results_json_schema() -> dict[str, Any]:
    schema = Results.model_json_schema(by_alias=True)
    schema["title"] = "mllmcl-bench results.json"
    return schema


def _no_constant(name: str) -> None:
    raise json.JSONDecodeError(f"{name} is not a number JSON allows", name, 0)


def load_results(path: Path) -> Results:
    """Read and validate a results.json; one-line errors naming the file and field."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"), parse_constant=_no_constant)
    except FileNotFoundError:
        raise SubmissionError(f"{path}: not found") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SubmissionError(f"{path}: invalid JSON ({exc})") from None
    try:
        return Results.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        message = first["msg"].removeprefix("Value error, ")
        raise SubmissionError(f"{path}: field {format_loc(first['loc'])}: {message}") from None
