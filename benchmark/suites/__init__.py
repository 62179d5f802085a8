"""Upstream files → uniform records → a prepared suite; the suite registry.

- :mod:`.registry`: ``tasks/<suite>.yaml`` → Suite / Task / SourceSpec;
- :mod:`.records`: the uniform Record and its Parquet I/O;
- :mod:`.prepare`: records, task hashes, stats and the typed manifest of a prepared suite;
- :mod:`.console`: what ``mllmcl-bench tasks list|show|prepare`` prints;
- :mod:`.sources`: downloads (hub or mirror) and one module per upstream dataset.
"""
