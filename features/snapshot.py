"""The serving snapshot of features: every active entity's features as of one date.

The snapshot date is the day after the newest rolled-up day, so the latest (possibly
partial) day counts. Tables are replaced whole inside one transaction: readers see the old
snapshot or the new one, never a mix.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb

from features.engagement import ENTITIES, windowed_features
from features.location import home_regions, regional_popularity
from features.sql import Query
from reelrank.settings import Settings

__all__ = [
    "PAIRS", "SNAPSHOT_TABLES", "SnapshotParams", "build_table", "feature_relation",
    "serving_as_of",
]

# feature set name -> warehouse table
SNAPSHOT_TABLES: dict[str, str] = {
    "user": "features_user",
    "item": "features_item",
    "creator": "features_creator",
    "user_creator": "features_user_creator",
    "user_topic": "features_user_topic",
    "region_item": "features_region_item",
    "home_region": "features_home_region",
    "regional_popularity": "features_regional_popularity",
}


PAIRS = ("user_creator", "user_topic")


@dataclass(frozen=True)
class SnapshotParams:
    windows: tuple[int, ...]
    pair_windows: tuple[int, ...]
    half_life_days: float
    prior_strength: float
    home_window_days: int
    regional_window_days: int
    regional_top_k: int = 500

    def windows_for(self, name: str) -> tuple[int, ...]:
        return self.pair_windows if name in PAIRS else self.windows

    @classmethod
    def from_settings(cls, settings: Settings) -> SnapshotParams:
        return cls(
            windows=tuple(settings.feature_windows_days),
            pair_windows=tuple(settings.pair_windows_days),
            half_life_days=settings.engagement_half_life_days,
            prior_strength=settings.rate_prior_strength,
            home_window_days=settings.home_region_window_days,
            regional_window_days=settings.regional_popularity_window_days,
            regional_top_k=settings.regional_top_k,
        )


def serving_as_of(con: duckdb.DuckDBPyConnection) -> date | None:
    """The day after the newest rolled-up day (None before any rollup)."""
    exists = con.execute("SELECT count(*) FROM information_schema.tables "
                         "WHERE table_name = 'engagement_daily'").fetchall()[0][0]
    if not exists:
        return None
    (newest,) = con.execute("SELECT max(day) FROM engagement_daily").fetchall()[0]
    return None if newest is None else date.fromordinal(newest.toordinal() + 1)


def feature_relation(con: duckdb.DuckDBPyConnection, name: str, as_of: date, p: SnapshotParams
              ) -> duckdb.DuckDBPyRelation:
    if name in ENTITIES:
        return windowed_features(
            con, ENTITIES[name], as_of=as_of, windows=p.windows_for(name),
            half_life_days=p.half_life_days, prior_strength=p.prior_strength)
    if name == "home_region":
        return home_regions(
            con, Query("SELECT user_id, $as_of AS as_of FROM users", {"as_of": as_of}),
            window_days=p.home_window_days)
    if name == "regional_popularity":
        return regional_popularity(
            con, as_of, window_days=p.regional_window_days,
            half_life_days=p.half_life_days, prior_strength=p.prior_strength,
            top_k=p.regional_top_k)
    raise KeyError(f"unknown feature set {name!r}; known: {sorted(SNAPSHOT_TABLES)}")


def build_table(con: duckdb.DuckDBPyConnection, name: str, as_of: date, params: SnapshotParams
                ) -> int:
    """Replace the snapshot table of feature set `name` with features as of `as_of`."""
    table = SNAPSHOT_TABLES[name]  # a name from the fixed SNAPSHOT_TABLES, not input
    relation = feature_relation(con, name, as_of, params)
    con.execute("BEGIN")
    try:
        con.execute(f"DROP TABLE IF EXISTS {table}")
        relation.to_table(table)
        (rows,) = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0]
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
    return int(rows)
