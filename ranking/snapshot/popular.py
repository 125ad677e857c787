"""Loader for the popularity lists: per home region, per declared country, and global (the
items with the most decayed engagement), each as (item rows, scores) best first."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from ranking.snapshot.arrays import codes

__all__ = ["Popular", "load_popular"]

Read = Callable[[str], pl.DataFrame]
RankedRows = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Popular:
    regional: dict[int, RankedRows]       # region code -> list
    country_popular: dict[str, RankedRows]
    global_top: RankedRows


def load_popular(read: Read, *, item_row: dict, region_code: dict[str, int],
                 decayed: np.ndarray) -> Popular:
    """`decayed`: each item row's decayed engagement (the global list's score)."""
    popular = read("regional_popularity.parquet")
    rows = codes(popular["item_id"], item_row)
    frame = popular.with_columns(pl.Series("row", rows)).filter(pl.col("row") >= 0)
    regional = {region_code[region]: (part["row"].to_numpy(), part["score"].to_numpy())
                for (region,), part in frame.sort("rank").group_by("region",
                                                                  maintain_order=True)}
    # A country's list: the best score each item has in any of its regions.
    by_country = (frame.with_columns(pl.col("region").str.split("-").list.first()
                                     .alias("country"))
                  .filter(pl.col("country") != "unknown")
                  .group_by("country", "row").agg(pl.col("score").max())
                  .sort(["country", "score", "row"], descending=[False, True, False]))
    country = {c: (part["row"].to_numpy(), part["score"].to_numpy())
               for (c,), part in by_country.group_by("country", maintain_order=True)}
    top = np.flatnonzero(decayed > 0)
    order = np.lexsort((top, -decayed[top]))
    return Popular(regional, country, (top[order], decayed[top[order]]))
