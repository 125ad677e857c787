"""reelrank: the feed-ranking engine for a feed of short AI-generated videos.

This package is the ground floor, what every part shares and that imports nothing above
it: settings, errors, the data home with its two stores (the DuckDB warehouse, and the
control store, owned by `reelrank.control`), the data contracts, ingestion, importers and
the synthetic world. Above it, in order: `features`, `ranking`, the generation worker
(`generation`), the HTTP API (`api`) beside the Dagster wiring (`pipelines`), and the command
line (`cli`) on top; `make test` holds that order with import-linter.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
