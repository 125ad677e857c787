"""Drop what the user has already been shown: a feed is for new videos."""

from __future__ import annotations

import polars as pl

from ranking.context import RankContext
from ranking.filters import FilterResult

__all__ = ["NAME", "seen_filter"]

NAME = "already_seen"


def seen_filter(ctx: RankContext, candidates: pl.DataFrame) -> FilterResult:
    ctx.con.register("_cands", candidates.select("user_id", "item_id"))
    try:
        seen = ctx.con.sql(f"""
            SELECT DISTINCT d.user_id, d.item_id FROM engagement_daily d
            JOIN _cands c ON c.user_id = d.user_id AND c.item_id = d.item_id
            WHERE d.day < {ctx.day} AND d.impressions > 0""").pl()
    finally:
        ctx.con.unregister("_cands")
    keys = ["user_id", "item_id"]
    return FilterResult(candidates.join(seen, on=keys, how="anti"),
                        candidates.join(seen, on=keys, how="semi"))
