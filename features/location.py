"""Location features: each user's home region, and what is popular in each region.

Both are computed from the event log's resolved places (`engagement_daily.country/region`,
never raw IPs) for query rows of (entity, as_of), like the engagement features, so training
rows can ask "where was this user based, as of that day" without seeing the future.
"""

from __future__ import annotations

from datetime import date

import duckdb

from features.engagement import ENTITIES, windowed_features
from features.sql import Params, Query, as_query

__all__ = ["home_regions", "regional_popularity"]


def home_regions(con: duckdb.DuckDBPyConnection, query: str | Query, *, window_days: int
                 ) -> duckdb.DuckDBPyRelation:
    """(as_of, user_id, home_country, home_region, home_region_share) per query row.

    The home region is where most of the user's impressions came from in the window before
    `as_of` ("unknown" places ignored). Without located activity it falls back to the
    country the user declared at signup, with that country as region; else "unknown".
    `query` gives the rows (columns user_id and as_of): SQL built by this package or its
    callers, a `Query` with the named parameters it uses (plain text, the older form, has none).
    """
    p = Params({"window": int(window_days)})
    rows = p.add(as_query(query))
    return con.sql(f"""
        WITH q AS ({rows}),
        seen AS (
            SELECT q.as_of, q.user_id, d.country, d.region, sum(d.impressions) AS n
            FROM q JOIN engagement_daily d ON d.user_id = q.user_id
                AND d.day < q.as_of AND d.day >= q.as_of - $window
            WHERE d.region <> 'unknown'
            GROUP BY ALL
        ),
        ranked AS (
            SELECT *, n / sum(n) OVER (PARTITION BY as_of, user_id) AS share,
                   row_number() OVER (PARTITION BY as_of, user_id
                                      ORDER BY n DESC, region) AS pos
            FROM seen
        )
        SELECT q.as_of, q.user_id,
               coalesce(r.country, u.country, 'unknown') AS home_country,
               coalesce(r.region, u.country, 'unknown') AS home_region,
               coalesce(r.share, 0.0) AS home_region_share
        FROM q
        LEFT JOIN ranked r ON r.user_id = q.user_id AND r.as_of = q.as_of AND r.pos = 1
        LEFT JOIN users u ON u.user_id = q.user_id
    """, params=p.values)


def regional_popularity(con: duckdb.DuckDBPyConnection, as_of: date, *, window_days: int,
                        half_life_days: float, prior_strength: float, top_k: int
                        ) -> duckdb.DuckDBPyRelation:
    """The `top_k` most popular items per region as of a date: (as_of, region, item_id,
    impressions, score, rank).

    Score is the decayed engagement points an item earned in the region, scaled by its
    smoothed like rate so that sheer exposure alone does not make an item "popular".
    """
    window = int(window_days)
    feats = windowed_features(con, ENTITIES["region_item"], as_of=as_of, windows=(window,),
                              half_life_days=half_life_days, prior_strength=prior_strength)
    con.register("_regional", feats)
    try:
        # The window is part of the column names (an int); the cut-off is a parameter.
        return con.sql(f"""
            SELECT as_of, region, item_id, impressions, score, rank FROM (
                SELECT as_of, region, item_id,
                       region_item_impressions_{window}d AS impressions,
                       greatest(region_item_engagement_decayed, 0)
                         * (0.5 + region_item_likes_rate_{window}d) AS score,
                       row_number() OVER (PARTITION BY as_of, region
                                          ORDER BY score DESC, item_id) AS rank
                FROM _regional)
            WHERE rank <= $top_k
        """, params={"top_k": int(top_k)}).materialize()
    finally:
        con.unregister("_regional")

