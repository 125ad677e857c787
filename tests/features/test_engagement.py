"""Engagement rollups and windowed features on a hand-built log with hand-computed values."""

from __future__ import annotations

from datetime import UTC, date, datetime

import duckdb
import polars as pl
import pytest

from features.engagement import ENTITIES, rollup_day, windowed_features

D = date(2026, 1, 10)


def _con(events: list[tuple]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("LOAD icu; SET TimeZone = 'UTC'")
    con.execute("CREATE TABLE events (event_id VARCHAR, user_id VARCHAR, item_id VARCHAR, "
                "event_type VARCHAR, ts TIMESTAMPTZ, watch_ms BIGINT, country VARCHAR, "
                "region VARCHAR)")
    con.execute("CREATE TABLE items (item_id VARCHAR, creator_id VARCHAR, topic VARCHAR)")
    con.execute("INSERT INTO items VALUES ('a', 'c1', 'cats'), ('b', 'c1', 'dance'), "
                "('c', 'c2', 'cats')")
    con.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [(*e, e[-1]) for e in events])
    return con


def _at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 1, day, hour, tzinfo=UTC)


LOG = [
    # u1 on Jan 9 (the day before D): sees a (completes, likes), sees b (skips)
    ("1", "u1", "a", "impression", _at(9), 10_000, "US"),
    ("2", "u1", "a", "complete", _at(9), None, "US"),
    ("3", "u1", "a", "like", _at(9), None, "US"),
    ("4", "u1", "b", "impression", _at(9), 1_000, "US"),
    ("5", "u1", "b", "skip", _at(9), None, "US"),
    # u1 on Jan 2 (8 days before D): sees c, shares it
    ("6", "u1", "c", "impression", _at(2), 20_000, "US"),
    ("7", "u1", "c", "share", _at(2), None, "US"),
    # u2 on Jan 9: sees a, no action
    ("8", "u2", "a", "impression", _at(9), 3_000, "BR"),
    # on D itself (must not count for as_of = D)
    ("9", "u2", "c", "impression", _at(10, 1), 5_000, "BR"),
]


def _rollup(con: duckdb.DuckDBPyConnection) -> None:
    for day in (2, 9, 10):
        rollup_day(con, date(2026, 1, day))


def _features(con, entity: str, query: str) -> pl.DataFrame:
    return windowed_features(con, ENTITIES[entity], query, windows=(1, 7, 28),
                             half_life_days=7, prior_strength=10).pl()


def test_rollup_counts_each_action_per_user_item_day() -> None:
    con = _con(LOG)
    _rollup(con)
    rows = con.sql("SELECT day, user_id, item_id, impressions, completes, likes, skips, "
                   "shares, watch_ms FROM engagement_daily ORDER BY ALL").fetchall()
    assert rows == [
        (date(2026, 1, 2), "u1", "c", 1, 0, 0, 0, 1, 20_000),
        (date(2026, 1, 9), "u1", "a", 1, 1, 1, 0, 0, 10_000),
        (date(2026, 1, 9), "u1", "b", 1, 0, 0, 1, 0, 1_000),
        (date(2026, 1, 9), "u2", "a", 1, 0, 0, 0, 0, 3_000),
        (date(2026, 1, 10), "u2", "c", 1, 0, 0, 0, 0, 5_000),
    ]
    # Re-running a day replaces it instead of adding to it.
    rollup_day(con, date(2026, 1, 9))
    assert con.sql("SELECT count(*) FROM engagement_daily").fetchall() == [(5,)]


def test_user_windows_use_only_days_before_as_of() -> None:
    con = _con(LOG)
    _rollup(con)
    f = _features(con, "user", "SELECT 'u1' AS user_id, DATE '2026-01-10' AS as_of")
    row = f.row(0, named=True)
    # 1-day and 7-day windows: the two Jan 9 impressions; 28 days adds the Jan 2 one.
    assert row["user_impressions_1d"] == 2 and row["user_impressions_7d"] == 2
    assert row["user_impressions_28d"] == 3
    assert row["user_watch_s_28d"] == pytest.approx(31.0)
    assert row["user_completes_rate_7d"] == pytest.approx(0.5)
    assert row["user_skips_rate_7d"] == pytest.approx(0.5)
    assert row["user_shares_rate_28d"] == pytest.approx(1 / 3)
    # Decayed points: Jan 9 (1 day old): complete 1 + like 2 + skip -0.5 = 2.5 * 0.5^(1/7);
    # Jan 2 (8 days old): share 3 * 0.5^(8/7).
    assert row["user_engagement_decayed"] == pytest.approx(
        2.5 * 0.5 ** (1 / 7) + 3 * 0.5 ** (8 / 7))
    assert row["user_days_since_last"] == 1


def test_a_user_with_no_history_gets_zero_counts_and_null_rates() -> None:
    con = _con(LOG)
    _rollup(con)
    f = _features(con, "user", "SELECT 'u9' AS user_id, DATE '2026-01-10' AS as_of")
    row = f.row(0, named=True)
    assert row["user_impressions_28d"] == 0
    assert row["user_likes_rate_28d"] is None
    assert row["user_days_since_last"] is None


def test_item_rates_are_smoothed_toward_the_global_rate() -> None:
    con = _con(LOG)
    _rollup(con)
    f = _features(con, "item", "SELECT item_id, DATE '2026-01-10' AS as_of FROM items")
    rates = dict(zip(f["item_id"], f["item_likes_rate_28d"]))
    # Globally in the 28 days before D: 4 impressions, 1 like -> prior 0.25, strength 10.
    assert rates["a"] == pytest.approx((1 + 10 * 0.25) / (2 + 10))
    assert rates["b"] == pytest.approx((0 + 10 * 0.25) / (1 + 10))
    assert rates["c"] == pytest.approx((0 + 10 * 0.25) / (1 + 10))


def test_pairs_and_topics() -> None:
    con = _con(LOG)
    _rollup(con)
    uc = _features(con, "user_creator",
                   "SELECT 'u1' AS user_id, 'c1' AS creator_id, DATE '2026-01-10' AS as_of")
    assert uc["user_creator_impressions_28d"].item() == 2
    ut = _features(con, "user_topic",
                   "SELECT 'u1' AS user_id, 'cats' AS topic, DATE '2026-01-10' AS as_of")
    assert ut["user_topic_impressions_28d"].item() == 2      # a (Jan 9) and c (Jan 2)
    assert ut["user_topic_impressions_7d"].item() == 1


def test_each_query_row_sees_its_own_past() -> None:
    """Point-in-time: the same user queried as of two days gets two different pasts."""
    con = _con(LOG)
    _rollup(con)
    f = _features(con, "user", "SELECT 'u2' AS user_id, d AS as_of FROM (VALUES "
                  "(DATE '2026-01-10'), (DATE '2026-01-11')) v(d)").sort("as_of")
    assert f["user_impressions_28d"].to_list() == [1, 2]


@pytest.mark.parametrize("entity", ["user", "item", "creator", "user_creator", "user_topic",
                                    "region_item"])
def test_the_snapshot_path_and_the_point_in_time_path_agree(entity: str) -> None:
    """No train/serve skew: for the same entities and date, both SQL paths are equal."""
    from polars.testing import assert_frame_equal

    con = _con(LOG)
    _rollup(con)
    kw = {"windows": (1, 7, 28), "half_life_days": 7, "prior_strength": 10}
    snapshot = windowed_features(con, ENTITIES[entity], as_of=D, **kw).pl()
    keys = ", ".join(ENTITIES[entity].keys)
    query = f"SELECT {keys}, as_of FROM snap"
    con.register("snap", snapshot)
    pit = windowed_features(con, ENTITIES[entity], query, **kw).pl()
    assert snapshot.height > 0
    order = ["as_of", *ENTITIES[entity].keys]
    assert_frame_equal(snapshot.sort(order), pit.sort(order).select(snapshot.columns),
                       check_dtypes=False, abs_tol=1e-9)
