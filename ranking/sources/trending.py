"""What is popular near the user: the regional popularity table, by home region."""

from __future__ import annotations

import polars as pl

from ranking.context import RankContext

__all__ = ["FAIL_OPEN", "NAME", "trending_candidates"]

NAME = "trending"
FAIL_OPEN = False


def trending_candidates(ctx: RankContext) -> pl.DataFrame:
    """Top regional items for each user's home region. Users whose region is unknown, or
    too quiet to have a list (every user, in a log without IPs), get the global list: the
    items with the most decayed engagement lately, from the item features."""
    k = int(ctx.settings.candidates_per_source)
    return ctx.query(f"""
        WITH home AS (
            SELECT u.user_id, coalesce(h.home_region, 'unknown') AS region
            FROM _users u LEFT JOIN features_home_region h USING (user_id)),
        regional AS (SELECT region, item_id, score FROM features_regional_popularity
                     WHERE rank <= {k}),
        global_top AS (
            SELECT item_id, item_engagement_decayed AS score FROM features_item
            WHERE item_engagement_decayed > 0
            ORDER BY score DESC, item_id LIMIT {k}),
        picked AS (
            SELECT h.user_id, r.item_id, r.score FROM home h
            JOIN regional r ON r.region = h.region
            UNION ALL
            SELECT h.user_id, g.item_id, g.score FROM home h CROSS JOIN global_top g
            WHERE h.region NOT IN (SELECT region FROM regional))
        SELECT user_id, item_id, '{NAME}' AS source, score::DOUBLE AS source_score FROM picked
    """)
