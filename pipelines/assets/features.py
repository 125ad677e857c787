"""Feature snapshot assets: one per feature set, each a warehouse table as of one date.

All are built by `features.snapshot.build_table`; this module only adds the Dagster shape:
lineage, row-count metadata with a preview, and checks that fail loudly.
"""

import dagster as dg

from features.snapshot import SNAPSHOT_TABLES, SnapshotParams, build_table, serving_as_of
from pipelines.assets.engagement import FEATURES_GROUP, engagement_daily
from pipelines.resources import HomeResource

__all__ = ["FEATURE_ASSETS"]

_KEYS = {
    "user": ("user_id",), "item": ("item_id",), "creator": ("creator_id",),
    "user_creator": ("user_id", "creator_id"), "user_topic": ("user_id", "topic"),
    "region_item": ("region", "item_id"),
    "home_region": ("user_id",), "regional_popularity": ("region", "item_id"),
}
CHECKS = ("not_empty", "keys_not_null", "rates_in_range", "fresh")
# Rows that, when present, mean a feature set must not come out empty: topics are optional
# in imported data, and regions can all be unknown (no IPs).
_SOURCE = {
    "user_topic": "SELECT count(*) FROM engagement_daily d JOIN items i USING (item_id) "
                  "WHERE i.topic IS NOT NULL",
    "regional_popularity": "SELECT count(*) FROM engagement_daily WHERE region <> 'unknown'",
    "region_item": "SELECT count(*) FROM engagement_daily WHERE region <> 'unknown'",
}


def _checks(home: HomeResource, name: str, as_of) -> list[dg.AssetCheckResult]:
    table = SNAPSHOT_TABLES[name]
    key = dg.AssetKey(["features", name])
    columns = [r[0] for r in home.query(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table])]
    rates = [c for c in columns if "_rate_" in c]
    nulls = " OR ".join(f"{k} IS NULL" for k in _KEYS[name])
    out_of_range = " OR ".join(f"{c} < 0 OR {c} > 1" for c in rates) or "false"
    rows, null_keys, bad_rates, newest = home.query(
        f"SELECT count(*), count(*) FILTER (WHERE {nulls}), "
        f"count(*) FILTER (WHERE {out_of_range}), max(as_of) FROM {table}")[0]
    (active,) = home.query(_SOURCE.get(name, "SELECT count(*) FROM engagement_daily"))[0]
    return [
        dg.AssetCheckResult(asset_key=key, check_name="not_empty",
                            passed=rows > 0 or active == 0, metadata={"rows": rows}),
        dg.AssetCheckResult(asset_key=key, check_name="keys_not_null", passed=null_keys == 0,
                            metadata={"null_keys": null_keys}),
        dg.AssetCheckResult(asset_key=key, check_name="rates_in_range", passed=bad_rates == 0,
                            metadata={"rows_out_of_range": bad_rates, "rate_columns": len(rates)}),
        dg.AssetCheckResult(asset_key=key, check_name="fresh",
                            passed=rows == 0 or newest == as_of,
                            metadata={"as_of": str(as_of), "newest": str(newest)}),
    ]


def _feature_asset(name: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=["features", name],
        deps=[engagement_daily, dg.AssetKey(["raw", "users"]), dg.AssetKey(["raw", "items"])],
        group_name=FEATURES_GROUP,
        kinds={"duckdb"},
        check_specs=[dg.AssetCheckSpec(c, asset=["features", name]) for c in CHECKS],
        op_tags={"reelrank/writes": "warehouse"},
        description=f"{name} features as of the day after the newest event day "
                    f"(table {SNAPSHOT_TABLES[name]})",
    )
    def _asset(context: dg.AssetExecutionContext, home: HomeResource):
        data_home = home.open()
        with data_home.writing(timeout_s=600) as con:
            as_of = serving_as_of(con)
            rows = 0 if as_of is None else build_table(
                con, name, as_of, SnapshotParams.from_settings(data_home.settings))
            preview = (con.sql(f"SELECT * FROM {SNAPSHOT_TABLES[name]} LIMIT 5").pl()
                       if as_of is not None else None)
        context.log.info(f"features/{name}: {rows:,} rows as of {as_of}")
        yield dg.MaterializeResult(metadata={
            "dagster/row_count": rows, "as_of": str(as_of),
            "preview": dg.MetadataValue.md(
                f"```\n{preview}\n```" if preview is not None else "(empty)"),
        })
        yield from _checks(home, name, as_of)

    return _asset


FEATURE_ASSETS = [_feature_asset(name) for name in SNAPSHOT_TABLES]
