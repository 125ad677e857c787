"""Engagement features: daily rollups of the event log, and windowed features read from them.

Two steps, both DuckDB SQL:

1. `rollup_days` turns days of raw events into `engagement_daily`, one row per
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
from datetime import UTC, date, datetime, time, timedelta

import duckdb

from features.sql import Params, Query, as_query

__all__ = [
    "ACTIONS",
    "ENTITIES",
    "Entity",
    "ensure_engagement_daily",
    "feature_columns",
    "rollup_day",
    "rollup_days",
    "windowed_features",
]

_US_PER_DAY = 86_400_000_000
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
# Pairs (user x creator, user x topic) are many; they carry only the rates that say
# "this person likes this kind of thing", which keeps the biggest aggregations lean.
AFFINITY_RATES: tuple[str, ...] = ("completes", "skips", "likes", "shares")


@dataclass(frozen=True)
class Entity:
    """What features are keyed by, and how to reach those keys from a daily rollup row."""

    name: str
    keys: tuple[str, ...]
    needs_items: bool = False
    smoothed: bool = False
    rates: tuple[str, ...] = RATES


ENTITIES: dict[str, Entity] = {
    e.name: e for e in (
        Entity("user", ("user_id",)),
        Entity("item", ("item_id",), smoothed=True),
        Entity("creator", ("creator_id",), needs_items=True, smoothed=True),
        Entity("user_creator", ("user_id", "creator_id"), needs_items=True,
               rates=AFFINITY_RATES),
        Entity("user_topic", ("user_id", "topic"), needs_items=True, rates=AFFINITY_RATES),
        # Popularity of an item among viewers in one region ("popular near you").
        Entity("region_item", ("region", "item_id"), smoothed=True,
               rates=("completes", "likes", "shares")),
    )
}


def ensure_engagement_daily(con: duckdb.DuckDBPyConnection) -> None:
    """Create `engagement_daily` with the id types the events table uses."""
    counts = ", ".join(f"CAST(0 AS INTEGER) AS {col}" for col, _ in ACTIONS)
    con.execute(
        "CREATE TABLE IF NOT EXISTS engagement_daily AS SELECT CAST(NULL AS DATE) AS day, "
        f"user_id, item_id, {counts}, CAST(0 AS BIGINT) AS watch_ms, country, region "
        "FROM events WHERE false")


def rollup_days(con: duckdb.DuckDBPyConnection, days: Sequence[date]) -> int:
    """Replace `days` in `engagement_daily` with their events; returns rows written.

    Contiguous days are rolled up in one scan of the event log, not one scan per day.
    The place of a (user, item, day) row is one of the day's places for it (the least, for
    determinism; a user rarely moves between regions within one video's events), and its
    country is that region's country code. Days are computed from epoch microseconds:
    casting TIMESTAMPTZ to DATE goes through ICU for every row, a second per 50M events.
    """
    ensure_engagement_daily(con)
    p = Params()
    # Column names come from ACTIONS; the event types they count are parameters.
    counts = ", ".join(f"count(*) FILTER (WHERE event_type = {p.bind(f'kind_{col}', kind)})"
                       f"::INTEGER AS {col}" for col, kind in ACTIONS)
    insert = (
        "INSERT INTO engagement_daily SELECT DATE '1970-01-01' + "
        f"(epoch_us(ts) // {p.bind('us_per_day', _US_PER_DAY)})::INTEGER AS day, user_id, "
        f"item_id, {counts}, coalesce(sum(watch_ms) FILTER (WHERE event_type = 'impression'), "
        "0)::BIGINT, CASE WHEN min(region) = 'unknown' THEN 'unknown' ELSE "
        "split_part(min(region), '-', 1) END, min(region) FROM events "
        "WHERE ts >= $start AND ts < $end GROUP BY ALL")
    written = 0
    for first, last in _runs(sorted(set(days))):
        start = datetime.combine(first, time(), tzinfo=UTC)
        end = datetime.combine(last, time(), tzinfo=UTC) + timedelta(days=1)
        con.execute("DELETE FROM engagement_daily WHERE day >= ? AND day <= ?", [first, last])
        con.execute(insert, {**p.values, "start": start, "end": end})
        written += con.execute("SELECT count(*) FROM engagement_daily WHERE day >= ? AND "
                               "day <= ?", [first, last]).fetchall()[0][0]
    return int(written)


def rollup_day(con: duckdb.DuckDBPyConnection, day: date) -> int:
    """Replace one day in `engagement_daily`; returns rows written."""
    return rollup_days(con, [day])


def _runs(days: Sequence[date]) -> list[tuple[date, date]]:
    """Maximal runs of consecutive days: [1, 2, 3, 7] -> [(1, 3), (7, 7)]."""
    runs: list[tuple[date, date]] = []
    for day in days:
        if runs and (day - runs[-1][1]).days == 1:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def feature_columns(entity: Entity, windows: Sequence[int]) -> list[str]:
    """The feature columns `windowed_features` returns for `entity`, in order."""
    prefix = entity.name
    cols = []
    for w in windows:
        cols += [f"{prefix}_impressions_{w}d", f"{prefix}_watch_s_{w}d"]
        cols += [f"{prefix}_{r}_rate_{w}d" for r in entity.rates]
    cols += [f"{prefix}_engagement_decayed", f"{prefix}_days_since_last"]
    return cols


def _keyed(entity: Entity, where: str) -> tuple[str, str]:
    """(key columns, FROM ... WHERE ...) of the rollup rows that count for `entity`: pairs
    with items reach creator and topic through the items table; rows with no topic or no
    known region cannot count toward a topic or a region."""
    keys = ", ".join(f"i.{k}" if k in ("creator_id", "topic") else f"d.{k}" for k in entity.keys)
    join = "JOIN items i ON i.item_id = d.item_id" if entity.needs_items else ""
    if "topic" in entity.keys:
        where += " AND i.topic IS NOT NULL"
    if "region" in entity.keys:
        where += " AND d.region <> 'unknown'"
    return keys, f"FROM engagement_daily d {join} WHERE {where}"


def _rows(entity: Entity, where: str) -> str:
    """Rollup rows summed per (entity keys, day): the point-in-time join then touches few
    rows per key."""
    keys, source = _keyed(entity, where)
    sums = ", ".join(f"sum(d.{col})::DOUBLE AS {col}" for col, _ in ACTIONS)
    return (f"SELECT {keys}, d.day, {sums}, sum(d.watch_ms)::DOUBLE / 1000 AS watch_s "
            f"{source} GROUP BY ALL")


def _points(alias: str, p: Params) -> str:
    return " + ".join(f"{p.bind(f'points_{col}', float(pts))} * {alias}.{col}"
                      for col, pts in POINTS.items() if pts)


def _window(w: int, p: Params) -> str:
    """The placeholder of window length `w` (also part of column names, hence an int)."""
    return p.bind(f"w{int(w)}", int(w))


def _aggregates(entity: Entity, windows: Sequence[int], as_of: str, p: Params) -> list[str]:
    """The window aggregates over rows `h` for a row whose as-of date is `as_of` (SQL)."""
    aggs = []
    for w in windows:
        in_w = f"h.day >= {as_of} - {_window(w, p)}"
        aggs.append(f"sum(h.impressions) FILTER (WHERE {in_w}) AS imp_{int(w)}")
        aggs.append(f"sum(h.watch_s) FILTER (WHERE {in_w}) AS watch_{int(w)}")
        aggs += [f"sum(h.{r}) FILTER (WHERE {in_w}) AS {r}_{int(w)}" for r in entity.rates]
    aggs.append(f"sum(({_points('h', p)}) * pow(0.5, ({as_of} - h.day) / $half_life)) "
                "AS decayed")
    aggs.append(f"min({as_of} - h.day) AS days_since_last")
    return aggs


def _snapshot_grouped(entity: Entity, windows: Sequence[int], p: Params) -> str:
    """`_aggregates` for one as-of date, over rows chosen by how many keys there are.

    Measured on 30M and 50M-event worlds: for single-key entities (users, items, creators),
    summing the rollup per (key, day) first shrinks 30M rows to a few million, and the
    windowed filters then run on those. For pairs (user x creator, user x topic,
    region x item), nearly every rollup row is its own (pair, day), so that extra group-by
    costs more than it saves and the filters run on the rollup rows directly.
    """
    day = "$as_of"
    where = f"d.day < {day} AND d.day >= {day} - $longest"
    if _per_pair(entity):
        keys, source = _keyed(entity, where)
        # DOUBLE before summing: DuckDB sums integers into 128-bit integers, more slowly.
        measures = ", ".join(f"d.{col}::DOUBLE AS {col}" for col, _ in ACTIONS)
        rows = f"SELECT {keys}, d.day, {measures}, d.watch_ms / 1000.0 AS watch_s {source}"
    else:
        rows = _rows(entity, where)
    aggs = _aggregates(entity, windows, day, p)
    key_list = ", ".join(f"h.{k}" for k in entity.keys)
    return f"SELECT {day} AS as_of, {key_list}, {', '.join(aggs)} FROM ({rows}) h GROUP BY ALL"


def _per_pair(entity: Entity) -> bool:
    """Entities with (nearly) one key per rollup row: user x something, region x item."""
    return len(entity.keys) > 1


def _priors(as_of_dates: str, windows: Sequence[int], rates: Sequence[str], p: Params) -> str:
    """Global rates per as-of date over all rollup rows in each window: the smoothing target.
    Computed from everything, never from the queried rows, so a training batch and the
    serving snapshot smooth toward the same value."""
    sums = ", ".join(f"sum(d.{r})::DOUBLE AS {r}" for r in rates)
    totals = (f"SELECT day, sum(impressions)::DOUBLE AS impressions, {sums} "
              "FROM engagement_daily d GROUP BY day")
    columns = ", ".join(
        f"coalesce(sum(t.{r}) FILTER (WHERE t.day >= a.as_of - {_window(w, p)}) / nullif(sum("
        f"t.impressions) FILTER (WHERE t.day >= a.as_of - {_window(w, p)}), 0), 0) "
        f"AS {r}_{int(w)}" for w in windows for r in rates)
    return (f"SELECT a.as_of, {columns} FROM ({as_of_dates}) a LEFT JOIN ({totals}) t "
            "ON t.day < a.as_of AND t.day >= a.as_of - $longest GROUP BY a.as_of")


def windowed_features(
    con: duckdb.DuckDBPyConnection,
    entity: Entity,
    query: str | Query | None = None,
    *,
    as_of: date | None = None,
    windows: Sequence[int],
    half_life_days: float,
    prior_strength: float,
) -> duckdb.DuckDBPyRelation:
    """Features from rollup days strictly before each row's as-of date.

    Either `query` (rows with `as_of` DATE and the entity's keys: point-in-time rows, each
    with its own date) or `as_of` (every entity active in the longest window before that
    date: the serving snapshot, computed in one scan). Both paths compute the same values
    (a test holds them equal) and share the rate, smoothing and output expressions.
    `query` is SQL built by this package or its callers, never user input; a `Query` carries
    the values it needs as named parameters (plain text, the older form, has none). Every
    value here is a bound parameter, so the relation returned composes like any other.
    """
    if (query is None) == (as_of is None):
        raise ValueError("pass exactly one of `query` or `as_of`")
    p = Params({"longest": int(max(windows)), "half_life": float(half_life_days)})
    keys = entity.keys
    if query is not None:
        rows = p.add(as_query(query))
        on = " AND ".join(f"h.{k} = q.{k}" for k in keys)
        min_day = f"(SELECT min(as_of) FROM ({rows}) mq) - $longest"
        aggs = _aggregates(entity, windows, "q.as_of", p)
        grouped = (
            f"SELECT q.as_of, {', '.join(f'q.{k}' for k in keys)}, {', '.join(aggs)} "
            f"FROM ({rows}) q LEFT JOIN ({_rows(entity, f'd.day >= {min_day}')}) h "
            f"ON {on} AND h.day < q.as_of AND h.day >= q.as_of - $longest GROUP BY ALL")
        dates = f"SELECT DISTINCT as_of FROM ({rows}) dq"
    else:
        p.bind("as_of", as_of)
        grouped = _snapshot_grouped(entity, windows, p)
        dates = "SELECT $as_of AS as_of"
    prefix = entity.name
    out = ["g.as_of", *[f"g.{k}" for k in keys]]
    if entity.smoothed:
        p.bind("strength", float(prior_strength))
    for w in map(int, windows):  # window lengths name columns: ints, never text
        out.append(f"coalesce(g.imp_{w}, 0) AS {prefix}_impressions_{w}d")
        out.append(f"coalesce(g.watch_{w}, 0) AS {prefix}_watch_s_{w}d")
        for r in entity.rates:
            if entity.smoothed:
                # Beta smoothing toward the global rate: a new item with 2 impressions and
                # 2 likes is not a 100% like-rate item.
                out.append(f"(coalesce(g.{r}_{w}, 0) + $strength * p.{r}_{w}) / "
                           f"(coalesce(g.imp_{w}, 0) + $strength) AS {prefix}_{r}_rate_{w}d")
            else:
                out.append(f"g.{r}_{w} / nullif(g.imp_{w}, 0) AS {prefix}_{r}_rate_{w}d")
    out.append(f"coalesce(g.decayed, 0) AS {prefix}_engagement_decayed")
    out.append(f"g.days_since_last AS {prefix}_days_since_last")
    priors = (f"JOIN ({_priors(dates, windows, entity.rates, p)}) p ON p.as_of = g.as_of"
              if entity.smoothed else "")
    return con.sql(f"WITH grouped AS ({grouped}) SELECT {', '.join(out)} FROM grouped g {priors}",
                   params=p.values)
