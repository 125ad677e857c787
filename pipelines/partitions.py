"""Partitions. Event-derived assets are partitioned by the day of their events.

Dynamic rather than a fixed daily calendar, because the days are whatever the data holds:
a synthetic world starts in 2026, MovieLens-100k in 1997. Ingestion registers each day it
loads events for.
"""

import dagster as dg

__all__ = ["EVENT_DAYS", "day_of"]

EVENT_DAYS = dg.DynamicPartitionsDefinition(name="event_days")


def day_of(partition_key: str):
    """The `date` a partition key names (keys are ISO dates)."""
    from datetime import date

    return date.fromisoformat(partition_key)
