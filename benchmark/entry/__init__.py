"""The leaderboard-entry folder: the contract between harness, CI and site.

- :mod:`.submission`: ``submission.yaml`` schema and path rules;
- :mod:`.results`: ``results.json`` schema (typed, built as a model);
- :mod:`.predictions`: ``predictions/step-XX/<task>.jsonl`` read and write;
- :mod:`.schemas`: the JSON Schemas in ``schemas/`` (``python -m benchmark.entry.schemas``).
"""
