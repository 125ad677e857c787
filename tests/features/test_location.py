"""Home regions and regional popularity, on a hand-built rollup."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from features.location import home_regions, regional_popularity


def _con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE TABLE users (user_id VARCHAR, country VARCHAR)")
    con.execute("INSERT INTO users VALUES ('u1', 'US'), ('u2', 'BR'), ('u3', NULL), "
                "('u4', 'DE')")
    con.execute("CREATE TABLE engagement_daily (day DATE, user_id VARCHAR, item_id VARCHAR, "
                "impressions INTEGER, completes INTEGER, skips INTEGER, likes INTEGER, "
                "comments INTEGER, shares INTEGER, remixes INTEGER, follows INTEGER, "
                "not_interested INTEGER, reports INTEGER, watch_ms BIGINT, country VARCHAR, "
                "region VARCHAR)")
    rows = [
        # u1: mostly from US-CA, once from GB-ENG (travel), once unknown
        ("2026-01-05", "u1", "a", 3, 0, 0, 1, "US", "US-CA"),
        ("2026-01-06", "u1", "b", 1, 0, 0, 0, "GB", "GB-ENG"),
        ("2026-01-06", "u1", "c", 5, 0, 0, 0, "unknown", "unknown"),
        # u2: only from BR-SP, but long ago (outside a 7-day window before Jan 10)
        ("2025-12-20", "u2", "a", 2, 0, 0, 0, "BR", "BR-SP"),
        # u4: in US-CA this week, likes b there
        ("2026-01-08", "u4", "b", 1, 1, 0, 1, "US", "US-CA"),
        ("2026-01-08", "u4", "a", 1, 0, 1, 0, "US", "US-CA"),
    ]
    con.executemany(
        "INSERT INTO engagement_daily VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0, 0, 0, 0, 0, 0, ?, ?)",
        [(d, u, i, n, c, s, lk, co, r) for d, u, i, n, c, s, lk, co, r in rows])
    return con


def test_home_region_is_the_most_seen_known_region_with_declared_fallback() -> None:
    con = _con()
    got = home_regions(con, "SELECT user_id, DATE '2026-01-10' AS as_of FROM users",
                       window_days=7).pl().sort("user_id")
    assert got["home_region"].to_list() == ["US-CA", "BR", "unknown", "US-CA"]
    assert got["home_country"].to_list() == ["US", "BR", "unknown", "US"]
    # u1: 3 of 4 located impressions were in US-CA (the unknown 5 do not count).
    assert got["home_region_share"][0] == pytest.approx(0.75)


def test_home_region_as_of_an_earlier_day_does_not_see_later_travel() -> None:
    con = _con()
    got = home_regions(con, "SELECT 'u1' AS user_id, DATE '2026-01-06' AS as_of",
                       window_days=7).pl()
    assert got["home_region_share"].item() == pytest.approx(1.0)


def test_regional_popularity_ranks_within_each_region() -> None:
    con = _con()
    top = regional_popularity(con, date(2026, 1, 10), window_days=7, half_life_days=3,
                              prior_strength=1, top_k=10).pl().sort("region", "rank")
    us = top.filter(top["region"] == "US-CA")
    # b was completed and liked in US-CA; a got impressions and a like from u1 but a skip
    # from u4. Points: a = like 2 (Jan 5) + skip -0.5 (Jan 8); b = complete 1 + like 2.
    assert us["item_id"].to_list() == ["b", "a"]
    assert "unknown" not in top["region"].to_list()
    # BR-SP's only activity is older than the window.
    assert "BR-SP" not in top["region"].to_list()


def test_top_k_bounds_each_region() -> None:
    con = _con()
    top = regional_popularity(con, date(2026, 1, 10), window_days=7, half_life_days=3,
                              prior_strength=1, top_k=1).pl()
    assert top.group_by("region").len()["len"].max() == 1
    assert top["as_of"].unique().to_list() == [date(2026, 1, 10)]
