"""``submission.yaml``: the schema of a leaderboard entry, and its path and safety rules.

An entry is a folder ``submissions/<suite>/<entry>/`` holding ``submission.yaml``,
``predictions/step-XX/<task>.jsonl`` and ``results.json``. This module validates the YAML
(pydantic; the JSON Schema is exported to ``schemas/submission.schema.json``), resolves
checkpoint references (a path confined to the entry, or ``hf://org/repo@<sha>[/subdir]``)
and never executes anything from the entry: YAML is read with the safe loader only, and
strictly (:mod:`.strict`: no tags, aliases, merge or duplicate keys; plain text only).

The field types below bound every number to what the leaderboard can show, and take
integers and flags only as such (``true`` is not the integer 1, ``1`` is not ``true``).
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    Field,
    Strict,
    StrictBool,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

from benchmark._files import StrictModel, first_error
from benchmark.entry.reported import Reported
from benchmark.entry.strict import plain_text, yaml_problems
from benchmark.errors import BenchmarkError

SUBMISSION_FILE = "submission.yaml"
RESULTS_FILE = "results.json"
PREDICTIONS_DIR = "predictions"
ENTRY_ID = r"^[a-z0-9][a-z0-9._-]{0,79}$"
# "\Z", not "$": in Python "$" also matches before a final newline ("abc\n").
SHA40 = re.compile(r"^[0-9a-f]{40}\Z")
HF_URI = re.compile(
    r"^hf://(?P<repo>[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*)"
    r"@(?P<revision>[0-9a-f]{40})(?:/(?P<subdir>[A-Za-z0-9._/-]+))?\Z"
)
EMAIL = re.compile(r"^[^@\s<>\"']+@[^@\s<>\"']+\.[A-Za-z]{2,}\Z")
HTTPS = re.compile(r"^https://[^\s<>\"']+\Z")
MARKUP = re.compile(r"<\s*[A-Za-z/!?]|javascript:", re.IGNORECASE)
METHOD_FAMILIES = (
    "lora-sequential",
    "replay",
    "moe-lora",
    "routing",
    "regularisation",
    "prompt",
    "joint",
    "other",
)

# Bounds of every number in an entry: what the leaderboard can show (and pandas hold).
MAX_VERSION = 10_000  # suite versions, metric-definition versions
MAX_STEPS = 999  # steps 0..T
MAX_COUNT = 10**12  # items, predictions, replay buffers
MAX_PARAMETERS = 10**15  # a thousand trillion parameters
MAX_SECONDS = 10**9  # about 30 years


def _text(value: str) -> str:
    return plain_text(value)


def _lines(value: str) -> str:
    return plain_text(value, multiline=True)


# Text shown on the leaderboard: one line of plain text (see benchmark.entry.strict).
Text = Annotated[StrictStr, Field(max_length=500), AfterValidator(_text)]
# Text that may span lines (line feeds and tabs, nothing else of the hidden categories).
MultilineText = Annotated[StrictStr, AfterValidator(_lines)]
Version = Annotated[int, Strict(), Field(ge=1, le=MAX_VERSION)]
Count = Annotated[int, Strict(), Field(ge=0, le=MAX_COUNT)]


class SubmissionError(BenchmarkError):
    """submission.yaml is malformed, or a checkpoint reference is unsafe."""


def step_dir(step: int) -> str:
    """The predictions folder name of a step: ``step-00`` is the base model."""
    return f"step-{step:02d}"


def check_relative_path(value: str, *, what: str) -> str:
    """A POSIX path relative to the entry that cannot leave it (no ``..``, no absolute)."""
    if not value or "\\" in value or "\x00" in value:
        raise ValueError(f"{what} {value!r} must be a non-empty POSIX path")
    path = PurePosixPath(value)
    if path.is_absolute() or value.startswith("~"):
        raise ValueError(f"{what} {value!r} must be relative to the entry folder")
    if any(part in ("..", "") for part in value.split("/")) and value not in (".",):
        raise ValueError(f"{what} {value!r} must not contain '..' or empty parts")
    return value


class ModelRef(StrictModel):
    """Free text is plain text (:data:`Text`); markup is not refused here (the site escapes
    everything), the pull-request check (``benchmark.validate``) refuses it as a second line
    of defence."""

    id: Text = Field(min_length=1, max_length=200, description="hub id or a display name")
    revision: StrictStr | None = Field(None, description="40-hex commit of the hub repo")
    path: Text | None = Field(
        None,
        description="where the weights are: a path inside the entry, or hf://org/repo@sha[/dir];"
        " default hf://<id>@<revision>",
    )
    parameters: Annotated[int, Strict(), Field(ge=1, le=MAX_PARAMETERS)] | None = Field(
        None, description="parameter count, for the size column"
    )

    @field_validator("revision")
    @classmethod
    def _sha(cls, value: str | None) -> str | None:
        if value is not None and not SHA40.fullmatch(value):
            raise ValueError("must be a full 40-character lowercase hex commit sha")
        return value

    @field_validator("path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        return None if value is None else check_checkpoint_path(value)


def check_checkpoint_path(value: str) -> str:
    if value.startswith("hf://"):
        match = HF_URI.fullmatch(value)
        subdir = (match["subdir"] or "") if match else ""
        if subdir and any(part in ("", ".", "..") for part in subdir.split("/")):
            raise ValueError(f"{value!r}: the folder inside the repo must not contain '..'")
        if not match:
            raise ValueError(
                f"{value!r} must look like hf://org/repo@<40-hex commit>[/subdir] "
                "(pin the revision: a branch name can change under you)"
            )
        return value
    return check_relative_path(value, what="path")


class Checkpoint(StrictModel):
    step: Annotated[int, Strict(), Field(ge=1, le=MAX_STEPS)]
    task: Text
    kind: Literal["lora", "full"]
    path: Text
    sha256: Annotated[StrictStr, Field(pattern=r"^[0-9a-f]{64}$")] | None = Field(
        None, description="optional content hash of the folder (as results.json records it)"
    )

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        return check_checkpoint_path(value)


class Submission(StrictModel):
    name: StrictStr = Field(pattern=ENTRY_ID, description="entry id, unique within the suite")
    method: Text = Field(min_length=1, max_length=120)
    method_family: Literal[METHOD_FAMILIES]  # type: ignore[valid-type]
    suite: Text = Field(max_length=100)
    suite_version: Version
    order: Text = Field("default", max_length=100)
    base_model: ModelRef
    checkpoints: list[Checkpoint] = Field(default_factory=list, max_length=MAX_STEPS)
    predictions_only: StrictBool = Field(
        False, description="the harness cannot run this method's inference: self-reported"
    )
    uses_replay: StrictBool = False
    replay_buffer: Count | None = None
    task_id_at_inference: StrictBool = False
    extra_data: Text | None = Field(None, max_length=500)
    paper: Text | None = None
    code: Text | None = None
    contact: Text | None = None
    license: Text | None = Field(None, max_length=80)
    date: date
    notes: MultilineText | None = Field(
        None, max_length=2000, description="plain text; the one field that may span lines"
    )
    reported: Reported | None = Field(
        None,
        description="what the method's paper published for this protocol (source, matrix "
        "and/or metrics): shown next to the measured numbers, never ranked",
    )
    reported_only: StrictBool = Field(
        False,
        description="a paper's table without checkpoints or predictions: shown flagged "
        "'reported' under the ranked table, never ranked (needs reported:)",
    )

    @field_validator("paper", "code")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not HTTPS.fullmatch(value):
            raise ValueError("must be an https:// URL")
        return value

    @field_validator("contact")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not EMAIL.fullmatch(value):
            raise ValueError("must be an e-mail address")
        return value

    @field_validator("date", mode="before")
    @classmethod
    def _date(cls, value: Any) -> Any:
        if isinstance(value, str | date):  # YAML reads 2026-11-22 as a date, '2026-11-22' as text
            return value
        raise ValueError("must be a date, YYYY-MM-DD")

    @model_validator(mode="after")
    def _consistent(self) -> Submission:
        if self.uses_replay and self.replay_buffer is None:
            raise ValueError("replay_buffer: say how many items per task are kept (uses_replay)")
        if not self.uses_replay and self.replay_buffer not in (None, 0):
            raise ValueError("replay_buffer: set uses_replay: true, or drop the buffer size")
        if self.reported_only:
            if self.reported is None:
                raise ValueError("reported: a reported_only entry gives the paper's numbers")
            if self.checkpoints or self.predictions_only:
                raise ValueError(
                    "reported_only: an entry of a paper's numbers lists no checkpoints and "
                    "is not predictions_only"
                )
            return self
        steps = [c.step for c in self.checkpoints]
        if steps != list(range(1, len(steps) + 1)):
            raise ValueError(f"checkpoints: steps must be 1..T in order, found {steps}")
        if not self.checkpoints and not self.predictions_only:
            raise ValueError(
                "checkpoints: list one checkpoint per step, or set predictions_only: true"
            )
        return self

    @property
    def verified(self) -> bool:
        """The harness can reproduce the predictions from the listed checkpoints."""
        return not self.predictions_only and not self.reported_only


def parse_submission(data: Any, *, where: str) -> Submission:
    if not isinstance(data, dict):
        raise SubmissionError(f"{where}: must be a YAML mapping at the top level")
    try:
        return Submission.model_validate(data)
    except ValidationError as exc:
        raise SubmissionError(f"{where}: {first_error(exc)}") from None


def load_submission(entry_dir: Path) -> Submission:
    """Read ``<entry>/submission.yaml`` with the safe loader and validate it."""
    path = Path(entry_dir) / SUBMISSION_FILE
    if path.is_dir():
        raise SubmissionError(f"{path}: is a folder, not a file")
    if not path.is_file():
        raise SubmissionError(f"{path}: not found (an entry folder holds submission.yaml)")
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
        problems = yaml_problems(text)
    except UnicodeDecodeError:
        raise SubmissionError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise SubmissionError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except RecursionError:
        raise SubmissionError(f"{path}: is nested too deeply") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}:" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SubmissionError(f"{path}:{where} invalid YAML ({problem})") from None
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise SubmissionError(f"{path}: {problems[0]}{more}")
    return parse_submission(data, where=str(path))


def resolve_local(entry_dir: Path, relative: str) -> Path:
    """A path inside the entry; refuses anything that resolves outside it (symlinks too)."""
    check_relative_path(relative, what="path")
    root = Path(entry_dir).resolve()
    target = (root / relative).resolve()
    if target != root and root not in target.parents:
        raise SubmissionError(f"{relative!r} resolves outside the entry folder {root}")
    return target


def submission_json_schema() -> dict[str, Any]:
    schema = Submission.model_json_schema()
    schema["$id"] = "https://mllmcl-bench.github.io/schemas/submission.schema.json"
    schema["title"] = "mllmcl-bench submission.yaml"
    return schema
