"""Exploration: new videos with few impressions yet, so a generation can find viewers the
day it is made.

Each user gets a window of consecutive fresh videos starting at a pseudo-random offset (a
hash of the seed and the user), so every fresh video reaches some users, the work is
users x k rather than users x fresh videos, and batch and online draw the same sample for
the same user.
"""

from __future__ import annotations

import polars as pl

from ranking.context import RankContext

__all__ = ["FAIL_OPEN", "NAME", "fresh_candidates"]

NAME = "fresh"
FAIL_OPEN = False


def fresh_candidates(ctx: RankContext) -> pl.DataFrame:
    s = ctx.settings
    return ctx.query(f"""
        WITH shown AS (
            SELECT item_id, sum(impressions) AS n FROM engagement_daily
            WHERE day < {ctx.day} GROUP BY item_id),
        fresh AS (
            SELECT i.item_id, i.creator_id,
                   row_number() OVER (ORDER BY i.created_at DESC, i.item_id) - 1 AS idx
            FROM items i LEFT JOIN shown s USING (item_id)
            WHERE i.created_at < {ctx.day}::TIMESTAMPTZ
              AND i.created_at >= {ctx.day}::TIMESTAMPTZ - INTERVAL {int(s.fresh_max_age_hours)} HOUR
              AND coalesce(s.n, 0) < {int(s.fresh_max_impressions)}),
        total AS (SELECT count(*) AS n FROM fresh),
        slots AS (
            SELECT u.user_id, (hash({int(s.seed)}, u.user_id) + r.j) % t.n AS idx, r.j
            FROM _users u CROSS JOIN range({int(s.fresh_per_user)}) r(j) CROSS JOIN total t
            WHERE t.n > 0 AND r.j < t.n)
        SELECT s.user_id, f.item_id, '{NAME}' AS source,
               1.0 - s.j / {max(int(s.fresh_per_user), 1)}.0 AS source_score
        FROM slots s JOIN fresh f ON f.idx = s.idx
        WHERE f.creator_id <> s.user_id
    """)
