"""Plan → generate (or re-score saved predictions) → score the grid → results.json.

- :mod:`.plan`: the full grid of (step, task) cells and the models, before any model loads;
- :mod:`.generate`: the prediction cache first, then a backend for what is missing;
- :mod:`.rescore`: saved predictions instead of a backend (``--backend replay``);
- :mod:`.grid`: item scores → matrix, metrics with intervals, the typed results;
- :mod:`.workers`, :mod:`.ray_units`: the same generation spread over processes or Ray;
- :mod:`.run`: ``evaluate_entry``, the whole evaluation of one entry.
"""
