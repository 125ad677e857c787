"""Point-in-time training data: labelled impressions joined with features as they were.

Each labelled impression on day D gets the features computed from days strictly before D,
through the same `windowed_features` SQL the serving snapshot uses. Nothing from D itself
or later can reach the row, which is what makes offline metrics honest.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import duckdb

from features.engagement import ENTITIES, windowed_features
from features.location import home_regions
from features.snapshot import PAIRS
from features.sql import Query, as_query

__all__ = ["GRADES", "label_query", "point_in_time"]

# Graded relevance of an impression: the best thing the viewer did with it.
GRADES = {"negative": 0, "view": 1, "complete": 2, "like": 3, "share": 4}

_LABELS = """
    SELECT d.day AS as_of, d.user_id, d.item_id, i.creator_id, i.topic,
        CASE WHEN d.shares + d.remixes > 0 THEN $grade_share
             WHEN d.likes + d.comments + d.follows > 0 THEN $grade_like
             WHEN d.reports + d.not_interested > 0 THEN $grade_negative
             WHEN d.completes > 0 THEN $grade_complete
             WHEN d.skips > 0 THEN $grade_negative
             ELSE $grade_view END AS label
    FROM engagement_daily d JOIN items i ON i.item_id = d.item_id
    WHERE d.impressions > 0 AND d.day >= $start AND d.day < $end
"""


def label_query(start: date, end: date) -> Query:
    """Labelled impressions on days [start, end), for `point_in_time`."""
    grades = {f"grade_{name}": grade for name, grade in GRADES.items()}
    return Query(_LABELS, {**grades, "start": start, "end": end})


def point_in_time(con: duckdb.DuckDBPyConnection, labels: str | Query, *,
                  windows: Sequence[int], pair_windows: Sequence[int], half_life_days: float,
                  prior_strength: float, home_window_days: int) -> duckdb.DuckDBPyRelation:
    """Labelled rows (`labels`: as_of, user_id, item_id, creator_id, topic, label) with every
    feature as of the row's own day. Rows keep their order-independent identity
    (as_of, user_id, item_id).

    `labels` is SQL built by this package or its callers: a `Query` (e.g. `label_query`)
    with the named parameters it uses, or plain text (the older form) with none.
    """
    labels = as_query(labels)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _labels AS {labels.sql}", dict(labels.params))
    kw = {"half_life_days": half_life_days, "prior_strength": prior_strength}
    parts = {}
    for name in ("user", "item", "creator", "user_creator", "user_topic"):
        keys = ", ".join(ENTITIES[name].keys)
        query = f"SELECT DISTINCT {keys}, as_of FROM _labels"
        if name == "user_topic":
            query += " WHERE topic IS NOT NULL"
        span = pair_windows if name in PAIRS else windows
        parts[name] = windowed_features(con, ENTITIES[name], query, windows=span,
                                        **kw).materialize()
    homes = home_regions(con, "SELECT DISTINCT user_id, as_of FROM _labels",
                         window_days=home_window_days).materialize()
    con.register("_homes", homes)
    for name, rel in parts.items():
        con.register(f"_f_{name}", rel)
    regional = windowed_features(
        con, ENTITIES["region_item"],
        "SELECT DISTINCT h.home_region AS region, l.item_id, l.as_of FROM _labels l "
        "JOIN _homes h USING (user_id, as_of)", windows=windows, **kw).materialize()
    con.register("_f_region_item", regional)
    try:
        return con.sql("""
            SELECT l.as_of, l.user_id, l.item_id, l.label,
                   date_diff('hour', i.created_at, l.as_of::TIMESTAMPTZ) AS item_age_hours,
                   i.duration_s AS item_duration_s,
                   len(i.cameo_user_ids) AS item_cameo_count,
                   (i.remix_of IS NOT NULL) AS item_is_remix,
                   h.home_region_share AS user_home_region_share,
                   u.* EXCLUDE (as_of, user_id),
                   it.* EXCLUDE (as_of, item_id),
                   c.* EXCLUDE (as_of, creator_id),
                   uc.* EXCLUDE (as_of, user_id, creator_id),
                   ut.* EXCLUDE (as_of, user_id, topic),
                   ri.* EXCLUDE (as_of, region, item_id)
            FROM _labels l
            JOIN items i ON i.item_id = l.item_id
            JOIN _homes h ON h.user_id = l.user_id AND h.as_of = l.as_of
            JOIN _f_user u ON u.user_id = l.user_id AND u.as_of = l.as_of
            JOIN _f_item it ON it.item_id = l.item_id AND it.as_of = l.as_of
            JOIN _f_creator c ON c.creator_id = l.creator_id AND c.as_of = l.as_of
            JOIN _f_user_creator uc ON uc.user_id = l.user_id
                AND uc.creator_id = l.creator_id AND uc.as_of = l.as_of
            LEFT JOIN _f_user_topic ut ON ut.user_id = l.user_id AND ut.topic = l.topic
                AND ut.as_of = l.as_of
            LEFT JOIN _f_region_item ri ON ri.region = h.home_region
                AND ri.item_id = l.item_id AND ri.as_of = l.as_of
            ORDER BY l.as_of, l.user_id, l.item_id
        """).materialize()
    finally:
        for name in (*parts, "region_item"):
            con.unregister(f"_f_{name}")
        con.unregister("_homes")
