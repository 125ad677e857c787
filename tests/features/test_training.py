"""Point-in-time training rows: a planted future event cannot leak into an earlier row."""

from __future__ import annotations

from datetime import UTC, date, datetime

import duckdb
import polars as pl
from polars.testing import assert_frame_equal

from features.engagement import rollup_day
from features.training import GRADES, label_query, point_in_time


def _at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 1, day, hour, tzinfo=UTC)


def _world() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("LOAD icu; SET TimeZone = 'UTC'")
    con.execute("CREATE TABLE users (user_id VARCHAR, country VARCHAR)")
    con.execute("INSERT INTO users VALUES ('u1', 'US'), ('u2', 'US')")
    con.execute("CREATE TABLE items (item_id VARCHAR, creator_id VARCHAR, created_at "
                "TIMESTAMPTZ, text VARCHAR, cameo_user_ids VARCHAR[], duration_s DOUBLE, "
                "safety_label VARCHAR, remix_of VARCHAR, topic VARCHAR)")
    con.execute("INSERT INTO items VALUES "
                "('a', 'u2', '2026-01-01', 'x', [], 10, 'safe', NULL, 'cats'), "
                "('b', 'u2', '2026-01-01', 'y', ['u2'], 20, 'safe', NULL, 'cats'), "
                "('c', 'u1', '2026-01-01', 'z', [], 30, 'safe', 'a', 'dance')")
    con.execute("CREATE TABLE events (event_id VARCHAR, user_id VARCHAR, item_id VARCHAR, "
                "event_type VARCHAR, ts TIMESTAMPTZ, watch_ms BIGINT, country VARCHAR, "
                "region VARCHAR)")
    log = [
        ("1", "u1", "a", "impression", _at(3), 5000),
        ("2", "u1", "a", "like", _at(3), None),
        ("3", "u2", "c", "impression", _at(4), 2000),
        ("4", "u2", "c", "skip", _at(4), None),
        ("5", "u1", "b", "impression", _at(5), 9000),   # the row we label, on Jan 5
        ("6", "u1", "b", "complete", _at(5), None),
        ("7", "u2", "a", "impression", _at(5), 100),
    ]
    con.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, 'US', 'US-CA')", log)
    return con


def _rows(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    for day in range(1, 10):
        rollup_day(con, date(2026, 1, day))
    return _point_in_time(con, label_query(date(2026, 1, 5), date(2026, 1, 6)))


def _point_in_time(con: duckdb.DuckDBPyConnection, labels: object) -> pl.DataFrame:
    return point_in_time(con, labels, windows=(1, 7, 28), pair_windows=(7, 28),
                         half_life_days=7, prior_strength=10, home_window_days=28).pl()


def test_labels_and_features_come_from_before_the_impression() -> None:
    rows = _rows(_world())
    assert rows.select("user_id", "item_id", "label").rows() == [
        ("u1", "b", GRADES["complete"]), ("u2", "a", GRADES["view"])]
    u1 = rows.row(0, named=True)
    # Only the Jan 3 impression of a is in u1's past; Jan 5 itself is not.
    assert u1["user_impressions_28d"] == 1 and u1["user_likes_rate_28d"] == 1.0
    assert u1["user_creator_impressions_28d"] == 1          # a is also by u2
    assert u1["user_topic_impressions_28d"] == 1            # a is also about cats
    assert u1["item_impressions_28d"] == 0                   # nobody saw b before Jan 5
    assert u1["item_age_hours"] == 96
    assert u1["item_cameo_count"] == 1


def test_a_planted_future_event_cannot_leak_into_an_earlier_row() -> None:
    clean = _rows(_world())
    con = _world()
    # The future: on Jan 7, u1 shares b, and u2 likes and shares everything.
    future = [("f1", "u1", "b", "share", _at(7)), ("f2", "u2", "a", "like", _at(7)),
              ("f3", "u2", "b", "impression", _at(7)), ("f4", "u2", "b", "share", _at(7)),
              ("f5", "u1", "b", "like", _at(5, 23))]   # even later the same day
    con.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, NULL, 'BR', 'BR-SP')", future)
    planted = _rows(con)
    feature_cols = [c for c in clean.columns if c != "label"]
    assert_frame_equal(planted.select(feature_cols), clean.select(feature_cols))


def test_a_past_event_does_change_the_row() -> None:
    """The leak test above would pass vacuously if features ignored history; they don't."""
    clean = _rows(_world())
    con = _world()
    con.execute("INSERT INTO events VALUES ('p1', 'u9', 'b', 'impression', ?, 1, 'US', "
                "'US-CA')", [_at(4)])
    con.execute("INSERT INTO users VALUES ('u9', 'US')")
    past = _rows(con)
    assert past["item_impressions_28d"][0] == clean["item_impressions_28d"][0] + 1
