"""Engagement features: daily rollups of the event log, and windowed features read from them.

Two steps, both DuckDB SQL:

1. `rollup_day` turns one day of raw events into `engagement_daily`, one row per
   (day, user, item) with counts of each action. It is the daily-partitioned fact table:
   re-running a day replaces exactly that day.
2. `windowed_features` computes, for a set of *query rows* (an entity and an `as_of` date),
   counts and rates over the windows ending just before `as_of` (days < as_of), plus an
   exponentially decayed engagement score. The same SQL serves two callers:
   the serving snapshot (every active entity, as_of = the day after the newest data) and
   point-in-time training rows (each labelled impression's entity, as_of = its own day), so
   training and serving can never compute a feature differently.

Rates are left NULL where there were no impressions: "no signal" must stay distinguishable
from "zero rate" for the ranker. Item, creator rates are smoothed toward the global rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, UTC

import duckdb

__all__ = [
    "ACTIONS",
    "ENTITIES",
    "Entity",
    "ensure_engagement_daily",
    "feature_columns",
    "rollup_day",
    "windowed_features",
]

# (column in engagement_daily, event_type counted)
ACTIONS: tuple[tuple[str, str], ...] = (
    ("impressions", "impression"),
    ("completes", "complete"),
    ("skips", "skip"),
    ("likes", "like"),
    ("comments", "comment"),
    ("shares", "share"),
    ("remixes", "remix"),
    ("follows", "follow"),
    ("not_interested", "not_interested"),
    ("reports", "report"),
)
# Engagement points per action, for the decayed score: the same order as graded relevance
# (skip < view < completion < like/comment < share/remix), with negative feedback negative.
POINTS: dict[str, float] = {
    "impressions": 0.0, "completes": 1.0, "likes": 2.0, "comments": 2.0, "shares": 3.0,
    "remixes": 3.0, "follows": 2.0, "skips": -0.5, "not_interested": -3.0, "reports": -5.0,
}
# Rates reported per window: numerator / impressions.
RATES: tuple[str, ...] = ("completes", "skips", "likes", "shares", "remixes", "comments",
                          "not_interested")


@dataclass(frozen=True)
class Entity:
    """What features are keyed by, and how to reach those keys from a daily rollup row."""

    name: str
    keys: tuple[str, ...]
    needs_items: bool = False
    smoothed: bool = False


ENTITIES: dict[str, Entity] = {
    e.name: e for e in (
        Entity("user", ("user_id",)),
        Entity("item", ("item_id",), smoothed=True),
        Entity("creator", ("creator_id",), needs_items=True, smoothed=True),
        Entity("user_creator", ("user_id", "creator_id"), needs_items=True),
        Entity("user_topic", ("user_id", "topic"), needs_items=True),
        # Popularity of an item among viewers in one region ("popular near you").
        Entity("region_item", ("region", "item_id"), smoothed=True),
    )
}


def ensure_engagement_daily(con: duckdb.DuckDBPyConnection) -> None:
    """Create `engagement_daily` with the id types the events table uses."""
    counts = ", ".join(f"CAST(0 AS INTEGER) AS {col}" for col, _ in ACTIONS)
    con.execute(
        "CREATE TABLE IF NOT EXISTS engagement_daily AS SELECT CAST(NULL AS DATE) AS day, "
        f"user_id, item_id, {counts}, CAST(0 AS BIGINT) AS watch_ms, country, region "
        "FROM events WHERE false")


def rollup_day(con: duckdb.DuckDBPyConnection, day: date) -> int:
    """Replace `day` in `engagement_daily` with that day's events; returns rows written."""
    ensure_engagement_daily(con)
    start = datetime.combine(day, time(), tzinfo=UTC)
    counts = ", ".join(f"count(*) FILTER (WHERE event_type = '{kind}')::INTEGER AS {col}"
                       for col, kind in ACTIONS)
    con.execute("DELETE FROM engagement_daily WHERE day = ?", [day])
    con.execute(
        f"INSERT INTO engagement_daily SELECT ?::DATE AS day, user_id, item_id, {counts}, "
        "coalesce(sum(watch_ms) FILTER (WHERE event_type = 'impression'), 0)::BIGINT, "
        "mode(country), mode(region) FROM events WHERE ts >= ? AND ts < ? "
        "GROUP BY user_id, item_id",
        [day, start, start + timedelta(days=1)])
    return int(con.execute("SELECT count(*) FROM engagement_daily WHERE day = ?", [day]
                           ).fetchall()[0][0])


def feature_columns(entity: Entity, windows: Sequence[int]) -> list[str]:
    """The feature columns `windowed_features` returns for `entity`, in order."""
    prefix = entity.name
    cols = []
    for w in windows:
        cols += [f"{prefix}_impressions_{w}d", f"{prefix}_watch_s_{w}d"]
        cols += [f"{prefix}_{r}_rate_{w}d" for r in RATES]
    cols += [f"{prefix}_engagement_decayed", f"{prefix}_days_since_last"]
    return cols


def _source(entity: Entity, min_day_sql: str) -> str:
    """Per (entity keys, day) sums over the rollup, restricted to days that can matter."""
    sums = ", ".join(f"sum(d.{col})::DOUBLE AS {col}" for col, _ in ACTIONS)
    keys = ", ".join(f"i.{k}" if k in ("creator_id", "topic") else f"d.{k}" for k in entity.keys)
    join = ("JOIN items i ON i.item_id = d.item_id" if entity.needs_items else "")
    where = f"d.day >= {min_day_sql}"
    if "topic" in entity.keys:
        where += " AND i.topic IS NOT NULL"
    if "region" in entity.keys:
        where += " AND d.region <> 'unknown'"
    return (f"SELECT {keys}, d.day, {sums}, sum(d.watch_ms)::DOUBLE / 1000 AS watch_s "
            f"FROM engagement_daily d {join} WHERE {where} GROUP BY ALL")


def windowed_features(
    con: duckdb.DuckDBPyConnection,
    entity: Entity,
    query: str,
    *,
    windows: Sequence[int],
    half_life_days: float,
    prior_strength: float,
) -> duckdb.DuckDBPyRelation:
    """Features for every row of `query` (a SQL relation with `as_of` DATE and the entity's
    keys), from rollup days strictly before `as_of`.

    `query` is SQL text built by this package (never user input); values are not inlined.
    """
    longest = max(windows)
    keys = entity.keys
    on = " AND ".join(f"h.{k} = q.{k}" for k in keys)
    aggs = []
    for w in windows:
        in_w = f"h.day >= q.as_of - {int(w)}"
        aggs.append(f"sum(h.impressions) FILTER (WHERE {in_w}) AS imp_{w}")
        aggs.append(f"sum(h.watch_s) FILTER (WHERE {in_w}) AS watch_{w}")
        aggs += [f"sum(h.{r}) FILTER (WHERE {in_w}) AS {r}_{w}" for r in RATES]
    points = " + ".join(f"{p} * h.{col}" for col, p in POINTS.items() if p)
    aggs.append(f"sum(({points}) * pow(0.5, (q.as_of - h.day) / {float(half_life_days)})) "
                "AS decayed")
    aggs.append("min(q.as_of - h.day) AS days_since_last")
    key_list = ", ".join(f"q.{k}" for k in keys)
    min_day = f"(SELECT min(as_of) FROM ({query}) mq) - {int(longest)}"
    grouped = (
        f"SELECT q.as_of, {key_list}, {', '.join(aggs)} FROM ({query}) q "
        f"LEFT JOIN ({_source(entity, min_day)}) h ON {on} AND h.day < q.as_of "
        f"AND h.day >= q.as_of - {int(longest)} GROUP BY ALL"
    )
    prefix = entity.name
    out = [f"g.as_of", *[f"g.{k}" for k in keys]]
    priors = ""
    for w in windows:
        out.append(f"coalesce(g.imp_{w}, 0) AS {prefix}_impressions_{w}d")
        out.append(f"coalesce(g.watch_{w}, 0) AS {prefix}_watch_s_{w}d")
        for r in RATES:
            if entity.smoothed:
                # Beta smoothing toward the global rate: a new item with 2 impressions and
                # 2 likes is not a 100% like-rate item.
                out.append(
                    f"(coalesce(g.{r}_{w}, 0) + {float(prior_strength)} * p.{r}_{w}) / "
                    f"(coalesce(g.imp_{w}, 0) + {float(prior_strength)}) "
                    f"AS {prefix}_{r}_rate_{w}d")
            else:
                out.append(f"g.{r}_{w} / nullif(g.imp_{w}, 0) AS {prefix}_{r}_rate_{w}d")
    out.append(f"coalesce(g.decayed, 0) AS {prefix}_engagement_decayed")
    out.append(f"g.days_since_last AS {prefix}_days_since_last")
    if entity.smoothed:
        prior_aggs = ", ".join(
            f"coalesce(sum({r}_{w}) / nullif(sum(imp_{w}), 0), 0) AS {r}_{w}"
            for w in windows for r in RATES)
        priors = f"JOIN (SELECT as_of, {prior_aggs} FROM grouped GROUP BY as_of) p USING (as_of)"
        return con.sql(f"WITH grouped AS ({grouped}) SELECT {', '.join(out)} "
                       f"FROM grouped g {priors.replace('USING (as_of)', 'ON p.as_of = g.as_of')}")
    return con.sql(f"WITH grouped AS ({grouped}) SELECT {', '.join(out)} FROM grouped g")
