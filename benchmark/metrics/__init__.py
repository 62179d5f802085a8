"""Accuracy matrix → continual-learning metrics, intervals and rank groups (numpy, and
scipy's normal distribution).

- :mod:`.definitions`: the ONE table of metric definitions and the functions of a matrix;
- :mod:`.uncertainty`: paired bootstrap intervals, paired tests, rank groups;
- :mod:`.intervals`: interval methods from bootstrap replicates (percentile, BCa, moment selection);
- :mod:`.ties`: near-tied steps of a maximum over steps (moment selection's lower end);
- :mod:`.matrix_file`: a user's matrix file (CSV/JSON) → the ``metrics`` report;
- :mod:`.reported`: a paper's published numbers → every metric it states or allows.

Public interface: ``from benchmark.metrics import cl_metrics``.
"""

from __future__ import annotations

from benchmark.metrics.definitions import (
    METRIC_DEFINITIONS_VERSION,
    MetricDefinition,
    MetricValue,
    cl_metrics,
    cl_metrics_explained,
    definition,
    metric_arrays,
    metric_keys,
    metric_table,
    probe_drops,
)
from benchmark.metrics.uncertainty import (
    Interval,
    PairedResult,
    bootstrap_matrices,
    bootstrap_metrics,
    paired_test,
    rank_groups,
)

__all__ = [
    "METRIC_DEFINITIONS_VERSION",
    "Interval",
    "MetricDefinition",
    "MetricValue",
    "PairedResult",
    "bootstrap_matrices",
    "bootstrap_metrics",
    "cl_metrics",
    "cl_metrics_explained",
    "definition",
    "metric_arrays",
    "metric_keys",
    "metric_table",
    "paired_test",
    "probe_drops",
    "rank_groups",
]
