"""``reported:`` in ``submission.yaml``: what a method's paper published for this protocol.

A paper's numbers are data shown next to the measured ones, never used for ranking. They
come with their ``source`` (an https URL and the table or figure) and either the paper's
accuracy matrix (``matrix``: rows are steps, lower-triangular tables and nulls allowed), its
metrics (``metrics``: ``last``, ``avg``, ``bwt``, … as defined in
:mod:`benchmark.metrics.definitions`), or both. :func:`benchmark.metrics.reported.reported_metrics`
derives every metric the matrix allows with the package's own metric code.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, Strict, StrictBool, field_validator, model_validator

from benchmark._files import StrictModel
from benchmark.entry.strict import plain_text

MAX_TASKS = 999
HTTPS = "https://"

Accuracy = Annotated[float, Strict(), Field(ge=0.0, le=100.0, allow_inf_nan=False)]
Points = Annotated[float, Strict(), Field(ge=-100.0, le=100.0, allow_inf_nan=False)]
Name = Annotated[str, Strict(), Field(min_length=1, max_length=200)]


def _plain(value: str) -> str:
    return plain_text(value)


class Source(StrictModel):
    """Where the numbers were published: a link and the table or figure in it."""

    url: Annotated[str, Strict(), Field(min_length=9, max_length=500)] = Field(
        description="https:// link to the paper (arXiv abstract, proceedings page)"
    )
    location: Annotated[str, Strict(), Field(min_length=1, max_length=200)] = Field(
        description="the table or figure, e.g. 'Table 2, row LoRA-FT'"
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        plain_text(value)
        if not value.startswith(HTTPS) or any(c in value for c in " <>\"'`\\"):
            raise ValueError("must be an https:// URL")
        return value

    @field_validator("location")
    @classmethod
    def _location(cls, value: str) -> str:
        return _plain(value)


class Reported(StrictModel):
    """Numbers a paper published for this exact protocol (suite, order, base model)."""

    source: Source
    tasks: list[Name] | None = Field(
        None,
        max_length=MAX_TASKS,
        description="the matrix's columns, in training order (required with matrix)",
    )
    base_row: StrictBool = Field(
        True, description="the matrix's first row is the base model (step 0)"
    )
    matrix: list[list[Accuracy | None]] | None = Field(
        None,
        max_length=MAX_TASKS + 1,
        description="accuracy after each step (rows) on each task (columns); a row may stop "
        "at the diagonal (lower-triangular table); null where the paper gives no number",
    )
    metrics: dict[str, Points] | None = Field(
        None, description="metrics as the paper states them, keys as the metric table's"
    )

    @field_validator("tasks")
    @classmethod
    def _tasks(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            for name in value:
                _plain(name)
            if len(set(value)) != len(value):
                raise ValueError("a task appears twice")
        return value

    @field_validator("metrics")
    @classmethod
    def _metric_keys(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        # plain text here; that each key names a metric of the metric table is checked where
        # the table may be read (benchmark.validate, the site): this floor sits above it
        for key in value or {}:
            plain_text(key)
        return value

    @model_validator(mode="after")
    def _shape(self) -> Reported:
        if self.matrix is None and not self.metrics:
            raise ValueError("give the paper's matrix, its metrics, or both")
        if self.matrix is not None:
            if not self.tasks:
                raise ValueError("tasks: name the matrix's columns, in training order")
            T = len(self.tasks)
            rows = T + 1 if self.base_row else T
            if len(self.matrix) != rows:
                raise ValueError(
                    f"matrix: {len(self.matrix)} rows, expected {rows} for {T} tasks "
                    f"({'a base-model row and ' if self.base_row else ''}one row per step)"
                )
            for i, row in enumerate(self.matrix):
                if len(row) > T:
                    raise ValueError(f"matrix[{i}]: {len(row)} values, but there are {T} tasks")
        return self

    def full_matrix(self) -> list[list[float | None]] | None:
        """The matrix as (T+1) x T, nulls where the paper gives no number (and in row 0
        without a base row)."""
        if self.matrix is None or self.tasks is None:
            return None
        T = len(self.tasks)
        rows = [[*row, *([None] * (T - len(row)))] for row in self.matrix]
        return rows if self.base_row else [[None] * T, *rows]
