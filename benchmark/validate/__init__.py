"""The checks a leaderboard pull request must pass (re-scores via :mod:`benchmark.evaluation`).

- :mod:`.checks`: one entry folder: files, schema, registry, coverage, recomputed metrics;
- :mod:`.pull_requests`: which entries a change adds, and the report.
"""
