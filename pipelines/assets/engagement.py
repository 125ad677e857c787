"""The daily engagement rollup: one partition per event day."""

import dagster as dg

from features.engagement import rollup_days
from pipelines.partitions import EVENT_DAYS, day_of
from pipelines.resources import HomeResource

__all__ = ["engagement_daily", "engagement_daily_sane"]

FEATURES_GROUP = "features"


@dg.asset(
    deps=[dg.AssetKey(["raw", "events"]), dg.AssetKey(["raw", "items"])],
    partitions_def=EVENT_DAYS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name=FEATURES_GROUP,
    kinds={"duckdb"},
    op_tags={"reelrank/writes": "warehouse"},
)
def engagement_daily(context: dg.AssetExecutionContext, home: HomeResource
                     ) -> dg.MaterializeResult:
    """Per (day, user, item) counts of each action; re-running a day replaces it."""
    data_home = home.open()
    days = [day_of(k) for k in context.partition_keys]
    written = 0
    with data_home.writing(timeout_s=600) as con:
        con.execute("BEGIN")
        written = rollup_days(con, days)
        con.executemany("DELETE FROM dirty_days WHERE day = ?", [[d] for d in days])
        con.execute("COMMIT")
        context.log.info(f"rolled up {len(days)} days ({written:,} rows)")
    return dg.MaterializeResult(metadata={"dagster/row_count": written, "days": len(days)})


@dg.asset_check(asset=engagement_daily, blocking=True)
def engagement_daily_sane(home: HomeResource) -> dg.AssetCheckResult:
    """Counts are never negative and every row saw at least one event."""
    (bad, total) = home.query(
        "SELECT count(*) FILTER (WHERE impressions < 0 OR likes < 0 OR watch_ms < 0 OR "
        "impressions + completes + skips + likes + comments + shares + remixes + follows "
        "+ not_interested + reports = 0), count(*) FROM engagement_daily")[0]
    return dg.AssetCheckResult(passed=bad == 0, metadata={"bad_rows": bad, "rows": total})
