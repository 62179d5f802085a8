"""Entries → static leaderboard. Reads :mod:`benchmark.entry` and :mod:`benchmark.metrics` only.

- :mod:`.entries`: loading entries, rank groups;
- :mod:`.format`: numbers, names, links;
- :mod:`.charts`: heatmap and line-chart data;
- :mod:`.tables`: sections and the table columns (declared once);
- :mod:`.render`: the pages, CSV and JSON downloads (``site_build``).
"""
