"""Drop videos labelled unsafe: never servable, to anyone."""

from __future__ import annotations

import polars as pl

from ranking.context import RankContext
from ranking.filters import FilterResult

__all__ = ["NAME", "UNSERVABLE", "safety_filter"]

NAME = "unsafe"
UNSERVABLE = ("unsafe",)


def safety_filter(ctx: RankContext, candidates: pl.DataFrame) -> FilterResult:
    labels = ctx.con.sql("SELECT item_id, safety_label FROM items").pl()
    marked = candidates.join(labels, on="item_id", how="left")
    bad = pl.col("safety_label").is_in(list(UNSERVABLE))
    return FilterResult(marked.filter(~bad).drop("safety_label"),
                        marked.filter(bad).drop("safety_label"))
