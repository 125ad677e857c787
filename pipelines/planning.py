"""What a run should cover: the event days whose rollup is out of date.

Shared by the schedules and by `reelrank run`, so a scheduled run and an in-process run of
the same job cover the same partitions.
"""

from collections.abc import Sequence

import dagster as dg

from pipelines.assets.engagement import engagement_daily
from pipelines.partitions import EVENT_DAYS
from pipelines.resources import HomeResource

__all__ = ["dirty_days", "run_plan"]

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


def dirty_days(home: HomeResource) -> list[str]:
    return [str(r[0]) for r in home.query("SELECT day FROM dirty_days ORDER BY day")]


def run_plan(instance: dg.DagsterInstance, home: HomeResource, job_assets: Sequence[dg.AssetKey]
             ) -> tuple[dict[str, str], list[dg.AssetKey]]:
    """(tags, asset selection) for a run of a job over `job_assets`.

    With dirty days, the run covers the partition range from the first to the last of them
    in the partitions' own order (days in between are recomputed too, which is harmless: a
    rollup is idempotent). That order is the order days were first seen, not the calendar:
    a late day older than every partition comes after them. Without any dirty day, the daily
    rollup is left out of the run.
    """
    days = dirty_days(home)
    if not days:
        return {}, [k for k in job_assets if k != engagement_daily.key]
    known = set(instance.get_dynamic_partitions(EVENT_DAYS.name))
    instance.add_dynamic_partitions(EVENT_DAYS.name, [d for d in days if d not in known])
    order = {key: n for n, key in enumerate(instance.get_dynamic_partitions(EVENT_DAYS.name))}
    positions = sorted(order[d] for d in days)
    keys = instance.get_dynamic_partitions(EVENT_DAYS.name)
    return {RANGE_START: keys[positions[0]], RANGE_END: keys[positions[-1]]}, list(job_assets)
