"""Entries → static leaderboard. Reads :mod:`benchmark.entry` and :mod:`benchmark.metrics` only.

- :mod:`.entries`: loading entries (measured and reported-only), rank groups;
- :mod:`.paper`: a paper's reported numbers next to the measured ones;
- :mod:`.format`: numbers, names, links;
- :mod:`.charts`: heatmap, line-chart and stability-plasticity scatter data;
- :mod:`.tables`: sections and the table columns (declared once);
- :mod:`.render`: the pages, CSV and JSON downloads (``site_build``).
"""
