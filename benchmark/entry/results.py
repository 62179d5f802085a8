"""``results.json``: the typed results of an evaluated entry (written by the harness).

Read strictly (:mod:`.strict`): no duplicate keys, finite numbers only, plain text in every
string; every number is bounded by what the leaderboard can show.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    Strict,
    StrictBool,
    ValidationError,
    model_serializer,
    model_validator,
)

from benchmark._files import StrictModel, first_error
from benchmark.entry.strict import loads_strict, non_finite, plain_text
from benchmark.entry.submission import (
    MAX_COUNT,
    MAX_PARAMETERS,
    MAX_SECONDS,
    MAX_STEPS,
    Count,
    SubmissionError,
    Text,
    Version,
)
from benchmark.metrics.definitions import METRIC_DEFINITIONS_VERSION

# --------------------------------------------------------------------------- results.json

RESULTS_SCHEMA = "mllmcl-bench/results/1"
MAX_JSON_INT = 2**53  # exact in a float, and in every JSON reader
MAX_JSON_DEPTH = 8

# An accuracy in percent, and a difference of two (the metrics, probe drops, intervals).
Accuracy = Annotated[float, Strict(), Field(ge=0.0, le=100.0, allow_inf_nan=False)]
Points = Annotated[float, Strict(), Field(ge=-100.0, le=100.0, allow_inf_nan=False)]
Step = Annotated[int, Strict(), Field(ge=0, le=MAX_STEPS)]
# A caption metric x100: BLEU, METEOR, ROUGE-L at most 100, CIDEr(-D) at most 1000.
CaptionMetric = Annotated[float, Strict(), Field(ge=0.0, le=1000.0, allow_inf_nan=False)]


def _plain_json(value: dict[str, Any]) -> dict[str, Any]:
    """Free-form JSON (generation settings, bootstrap, checkpoint records) held to the rules
    of the typed fields: plain text, finite numbers within what a float holds exactly."""
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        node, where, depth = stack.pop()
        at = f" at {where}" if where else ""
        if depth > MAX_JSON_DEPTH:
            raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels{at}")
        if isinstance(node, str):
            try:
                plain_text(node)
            except ValueError as exc:
                raise ValueError(f"{exc}{at}") from None
        elif isinstance(node, bool) or node is None:
            continue
        elif isinstance(node, int) and not -MAX_JSON_INT <= node <= MAX_JSON_INT:
            raise ValueError(f"integer beyond +-2**53{at}")
        elif isinstance(node, float) and not (math.isfinite(node) and abs(node) <= MAX_JSON_INT):
            raise ValueError(f"number not finite or beyond +-2**53{at}")
        elif isinstance(node, dict):
            for key, item in node.items():
                stack.append((key, where, depth + 1))
                stack.append((item, f"{where}.{key}" if where else str(key), depth + 1))
        elif isinstance(node, list):
            stack += [(item, f"{where}[{i}]", depth + 1) for i, item in enumerate(node)]
        elif not isinstance(node, int | float):
            raise ValueError(f"{type(node).__name__} is not JSON{at}")
    return value


JsonObject = Annotated[dict[Text, Any], AfterValidator(_plain_json)]


class MetricResult(StrictModel):
    value: Points | None
    ci95: tuple[Points, Points] | None = None
    reason: Text | None = None


class CellResult(StrictModel):
    step: Step
    task: Text
    n: Count
    accuracy: Accuracy | None
    parse_failures: Count
    judge_needed: Count | None = Field(
        None,
        description=(
            "items whose reference rules could not read the output, so that the reference "
            "would have asked its LLM judge (MathVista extraction, can_infer); null: not recorded"
        ),
    )
    predictions_sha256: Text
    metrics: dict[Text, CaptionMetric] | None = Field(
        None,
        exclude_if=lambda value: value is None,  # results of other cells read as before
        description=(
            "caption cells: BLEU-1..4, METEOR, ROUGE-L, CIDEr (x100) and their Average, the "
            "cell's number in the matrix; null for other cells"
        ),
    )


class ProbeResult(StrictModel):
    task: Text
    series: list[Accuracy | None]
    drop: Points | None
    max_drop: Points | None


class Provenance(StrictModel):
    """How the results were produced, as the run that produced them recorded it.

    Only the replay re-check of the predictions is verified by CI; ``benchmark.validate``
    checks that these records are consistent with the entry, and the site shows those of a
    self-reported entry as self-reported."""

    harness: Text
    backend: Text
    trust_remote_code: StrictBool = Field(
        False, description="the base model's own code from the hub ran (--trust-remote-code)"
    )
    step_backends: dict[Text, Text] | None = Field(
        None,
        description="step → backend, only when backends were mixed (--allow-mixed-backends)",
    )
    versions: dict[Text, Text]
    generation: JsonObject
    chat_template_sha256: Text | None
    checkpoints: list[JsonObject] = Field(max_length=MAX_STEPS + 1)
    limit: Annotated[int, Strict(), Field(ge=1, le=MAX_COUNT)] | None = None
    started: Text
    finished: Text
    wall_seconds: Annotated[float, Strict(), Field(ge=0.0, le=MAX_SECONDS, allow_inf_nan=False)]
    generated: Count = Field(0, description="predictions generated in this run (not cached)")
    base_parameters: Annotated[int, Strict(), Field(ge=1, le=MAX_PARAMETERS)] | None = Field(
        None,
        description="parameters of the base model, counted from its safetensors headers "
        "when evaluated (absent: not counted, e.g. the replay backend loads no model)",
    )

    @model_serializer(mode="wrap")
    def _omit_uncounted(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """No ``base_parameters`` key when nothing was counted: results written before the
        field existed re-score to the same bytes."""
        data: dict[str, Any] = handler(self)
        if data.get("base_parameters", 0) is None:
            del data["base_parameters"]
        return data


class Results(StrictModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    schema_: Literal["mllmcl-bench/results/1"] = Field(alias="schema")
    suite: Text
    suite_version: Version
    order: Text
    task_hashes: dict[Text, Text]
    tasks: list[Text]
    probes: list[Text]
    matrix: list[list[Accuracy | None]]
    cells: list[CellResult]
    metrics: dict[Text, MetricResult]
    probe_drops: list[ProbeResult] = Field(default_factory=list)
    metric_definitions: Version
    bootstrap: JsonObject
    verified: StrictBool
    contamination: dict[Text, Text] | None = Field(
        None,
        exclude_if=lambda value: not value,  # entries without one read as before
        description=(
            "task -> note: tasks whose test data (or images) are in the base model's training "
            "data, as the suite YAML declares (contamination); null or absent: none known"
        ),
    )
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
        return self


def results_json_schema() -> dict[str, Any]:
    schema = Results.model_json_schema(by_alias=True)
    schema["title"] = "mllmcl-bench results.json"
    return schema


def load_results(path: Path) -> Results:
    """Read and validate a results.json; one-line errors naming the file and field."""
    try:
        data = loads_strict(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SubmissionError(f"{path}: not found") from None
    except IsADirectoryError:
        raise SubmissionError(f"{path}: is a folder, not a file") from None
    except OSError as exc:
        raise SubmissionError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except RecursionError:
        raise SubmissionError(f"{path}: is nested too deeply") from None
    except UnicodeDecodeError:
        raise SubmissionError(f"{path}: not UTF-8 text") from None
    except ValueError as exc:  # bad JSON, a duplicate key, NaN, an integer too long
        raise SubmissionError(f"{path}: invalid JSON ({' '.join(str(exc).split())})") from None
    for where in non_finite(data):
        raise SubmissionError(f"{path}: field {where}: is not a finite number")
    try:
        return Results.model_validate(data)
    except ValidationError as exc:
        raise SubmissionError(f"{path}: {first_error(exc)}") from None


def definitions_mismatch(version: int, entry: str | Path) -> str | None:
    """Why an entry's results.json, computed with metric definitions ``version``, cannot be read
    as this version's, and what to do about it; None when the versions agree."""
    if version == METRIC_DEFINITIONS_VERSION:
        return None
    if version < METRIC_DEFINITIONS_VERSION:
        return (
            f"computed with metric definitions version {version}, and this harness uses "
            f'version {METRIC_DEFINITIONS_VERSION} (README, "Metrics"): '
            f"`mllmcl-bench rescore {entry}` recomputes it from the saved predictions "
            "(nothing is generated)"
        )
    return (
        f"computed with metric definitions version {version}, newer than this harness's "
        f"{METRIC_DEFINITIONS_VERSION}: update mllmcl-bench"
    )
