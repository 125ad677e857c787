"""Arrays of the popularity lists: per home region and per declared country, as CSR of
(item rows, scores) best first, and the global list (the most decayed engagement)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl

from ranking.snapshot.arrays import codes

__all__ = ["popular_arrays"]

Read = Callable[..., pl.DataFrame]


def _csr(frame: pl.DataFrame, key: str, n_keys: int) -> tuple[np.ndarray, ...]:
    """(ptr over key codes, rows, scores) of a frame sorted by key then best first."""
    keys = frame[key].to_numpy()
    ptr = np.searchsorted(keys, np.arange(n_keys + 1)).astype(np.int64)
    return ptr, frame["row"].to_numpy().astype(np.int64), frame["score"].to_numpy()


def popular_arrays(read: Read, *, item_row: dict, region_code: dict[str, int],
                   country_code: dict[str, int], decayed: np.ndarray
                   ) -> dict[str, np.ndarray]:
    """`decayed`: each item row's decayed engagement (the global list's score)."""
    popular = read("regional_popularity.parquet")
    frame = (popular.with_columns(pl.Series("row", codes(popular["item_id"], item_row)))
             .filter(pl.col("row") >= 0))
    regional = (frame.with_columns(pl.col("region").replace_strict(region_code)
                                   .alias("code"))
                .sort(["code", "rank"]))
    # A country's list: the best score each item has in any of its regions.
    by_country = (frame.with_columns(pl.col("region").str.split("-").list.first()
                                     .alias("country"))
                  .filter(pl.col("country").is_in(list(country_code)))
                  .group_by("country", "row").agg(pl.col("score").max())
                  .with_columns(pl.col("country").replace_strict(country_code).alias("code"))
                  .sort(["code", "score", "row"], descending=[False, True, False]))
    top = np.flatnonzero(decayed > 0)
    order = np.lexsort((top, -decayed[top]))
    out = {}
    for name, table, n in (("regional", regional, len(region_code)),
                           ("country_popular", by_country, len(country_code))):
        out[f"{name}.ptr"], out[f"{name}.rows"], out[f"{name}.scores"] = _csr(table, "code", n)
    out["global_top.rows"], out["global_top.scores"] = top[order], decayed[top[order]]
    return out
