"""Recent videos from the people a user follows and from their friends."""

from __future__ import annotations

import polars as pl

from ranking.context import RankContext

__all__ = ["FAIL_OPEN", "NAME", "graph_candidates"]

NAME = "graph"
FAIL_OPEN = False  # plain warehouse tables: a failure here is a real fault


def graph_candidates(ctx: RankContext) -> pl.DataFrame:
    """Newest first; the score is recency (1 for just now, toward 0 at the window's edge)."""
    s = ctx.settings
    return ctx.query(f"""
        WITH people AS (
            SELECT f.follower_id AS user_id, f.followee_id AS author FROM follows f
            JOIN _users u ON u.user_id = f.follower_id
            WHERE f.created_at < {ctx.day}::TIMESTAMPTZ
            UNION
            SELECT fr.user_a, fr.user_b FROM friendships fr JOIN _users u ON u.user_id = fr.user_a
            WHERE fr.created_at < {ctx.day}::TIMESTAMPTZ
            UNION
            SELECT fr.user_b, fr.user_a FROM friendships fr JOIN _users u ON u.user_id = fr.user_b
            WHERE fr.created_at < {ctx.day}::TIMESTAMPTZ
        ),
        recent AS (
            SELECT p.user_id, i.item_id,
                   1 - date_diff('second', i.created_at, {ctx.day}::TIMESTAMPTZ)
                       / ({int(s.graph_recent_days)} * 86400.0) AS score
            FROM people p JOIN items i ON i.creator_id = p.author
            WHERE i.created_at < {ctx.day}::TIMESTAMPTZ
              AND i.created_at >= {ctx.day}::TIMESTAMPTZ - INTERVAL {int(s.graph_recent_days)} DAY
        )
        SELECT * FROM (
            SELECT user_id, item_id, '{NAME}' AS source, max(score)::DOUBLE AS source_score
            FROM recent GROUP BY user_id, item_id)
        QUALIFY row_number() OVER (PARTITION BY user_id ORDER BY source_score DESC, item_id)
                <= {int(s.candidates_per_source)}
    """)
