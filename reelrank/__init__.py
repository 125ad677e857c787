"""reelrank: the feed-ranking engine for a feed of short AI-generated videos.

This package holds what every part shares: settings, the data home with its two stores
(the DuckDB warehouse and the SQLite control store), the data contracts, ingestion, the
synthetic world and the command line. Features, ranking and the Dagster wiring live in the
top-level packages `features`, `ranking` and `pipelines`.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
