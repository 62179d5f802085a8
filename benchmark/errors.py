"""The one error type users see: a message that says what is wrong and where.

The CLI prints ``str(error)`` on one line and exits with status 2; everything else
(a bug) keeps its traceback.
"""

from __future__ import annotations


class BenchmarkError(Exception):
    """A problem with the user's input, data or environment (not a bug in the harness)."""


class RecordError(BenchmarkError):
    """A record or a records file is malformed."""


class SuiteError(BenchmarkError):
    """A suite definition (tasks/*.yaml) is malformed or unknown."""


class SourceError(BenchmarkError):
    """Upstream files are missing or laid out differently from what a loader expects."""
