"""Ranker input rows: point-in-time features plus content and social-graph signals.

The same function builds training rows (labelled impressions) and scoring rows (candidate
pairs with no label yet), so the ranker sees identical features in both. Both read the
users' taste vectors as of each row's day from `user_embeddings`, which the
`user_embeddings` asset builds (`build_user_embeddings`, for the training window and the
serving day) and evaluation builds for its own split; a missing day is an error naming it,
never a side effect here.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import polars as pl

from features.content import user_embeddings
from features.sql import Query
from features.training import label_query, point_in_time
from reelrank.errors import ReelrankError
from reelrank.settings import Settings

__all__ = ["build_user_embeddings", "candidate_rows", "labelled_rows", "training_days"]


def _built_days(con: duckdb.DuckDBPyConnection) -> set[date]:
    exists = con.execute("SELECT count(*) FROM information_schema.tables "
                         "WHERE table_name = 'user_embeddings'").fetchall()[0][0]
    if not exists:
        return set()
    return {r[0] for r in con.execute("SELECT DISTINCT as_of FROM user_embeddings").fetchall()}


def build_user_embeddings(con: duckdb.DuckDBPyConnection, days: list[date],
                          settings: Settings) -> list[date]:
    """User taste vectors as of each of `days` (from the days before it), where not built
    yet; returns the days built. The user_embeddings asset and evaluation call this."""
    rows = con.execute("SELECT len(embedding) FROM item_embeddings LIMIT 1").fetchall()
    if not rows:
        return []
    have = _built_days(con)
    built = [day for day in days if day not in have]
    for day in built:
        user_embeddings(con, day, settings.user_embedding_half_life_days,
                        settings.chat_interest_weight, int(rows[0][0]))
    return built


def training_days(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date
                  ) -> list[date]:
    """The days whose rows the nightly ranker trains and validates on (none while the log
    is too short to train: `ranking.training.train_candidate` has the same rule), then
    `as_of` (the serving day): what the user_embeddings asset keeps built."""
    (first,) = con.execute("SELECT min(day) FROM engagement_daily").fetchall()[0]
    if first is None:
        return [as_of]
    # The first day has no history behind it; start after it when the log is short.
    start = max(as_of - timedelta(days=settings.ranker_train_days), first + timedelta(days=1))
    if start >= as_of - timedelta(days=settings.ranker_valid_days):
        return [as_of]
    return [start + timedelta(days=n) for n in range((as_of - start).days)] + [as_of]


def _require_user_embeddings(con: duckdb.DuckDBPyConnection, days: list[date]) -> None:
    missing = sorted(set(days) - _built_days(con))
    if missing and con.execute("SELECT count(*) FROM item_embeddings").fetchall()[0][0]:
        shown = ", ".join(str(d) for d in missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise ReelrankError(f"no user embeddings as of {shown}: build them first "
                            "(the user_embeddings asset, or ranking.dataset."
                            "build_user_embeddings)")


def _enrich(con: duckdb.DuckDBPyConnection, rows: duckdb.DuckDBPyRelation) -> pl.DataFrame:
    con.register("_pit", rows)
    try:
        return con.sql("""
            SELECT p.*,
                   array_cosine_similarity(u.embedding, e.embedding) AS content_similarity,
                   (f.follower_id IS NOT NULL) AS follows_creator,
                   (uu.country IS NOT NULL AND uu.country = cu.country) AS same_country,
                   (i.safety_label = 'sensitive') AS item_sensitive
            FROM _pit p
            JOIN items i ON i.item_id = p.item_id
            LEFT JOIN user_embeddings u ON u.user_id = p.user_id AND u.as_of = p.as_of
            LEFT JOIN item_embeddings e ON e.item_id = p.item_id
            LEFT JOIN follows f ON f.follower_id = p.user_id AND f.followee_id = i.creator_id
                AND f.created_at < p.as_of::TIMESTAMPTZ
            LEFT JOIN users uu ON uu.user_id = p.user_id
            LEFT JOIN users cu ON cu.user_id = i.creator_id
            ORDER BY p.as_of, p.user_id, p.item_id
        """).pl()
    finally:
        con.unregister("_pit")


def _pit(con: duckdb.DuckDBPyConnection, labels: Query, settings: Settings
         ) -> duckdb.DuckDBPyRelation:
    return point_in_time(
        con, labels, windows=settings.feature_windows_days,
        pair_windows=settings.pair_windows_days, half_life_days=settings.engagement_half_life_days,
        prior_strength=settings.rate_prior_strength,
        home_window_days=settings.home_region_window_days)


def labelled_rows(con: duckdb.DuckDBPyConnection, start: date, end: date, settings: Settings
                  ) -> pl.DataFrame:
    """Labelled impressions on days [start, end) with every feature as of their own day."""
    _require_user_embeddings(con, [start + timedelta(days=n) for n in range((end - start).days)])
    return _enrich(con, _pit(con, label_query(start, end), settings))


def candidate_rows(con: duckdb.DuckDBPyConnection, pairs: pl.DataFrame, as_of: date,
                   settings: Settings) -> pl.DataFrame:
    """Features for unlabelled (user_id, item_id) pairs as of `as_of` (label is NULL)."""
    _require_user_embeddings(con, [as_of])
    con.register("_pairs", pairs.select("user_id", "item_id"))
    try:
        labels = Query("SELECT $as_of AS as_of, p.user_id, p.item_id, i.creator_id, i.topic, "
                       "NULL::INTEGER AS label FROM _pairs p JOIN items i ON i.item_id = p.item_id",
                       {"as_of": as_of})
        return _enrich(con, _pit(con, labels, settings))
    finally:
        con.unregister("_pairs")
