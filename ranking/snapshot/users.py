"""Loader for the snapshot's people: ids by row, declared countries, the per-user block of
ranker features (user features and the home region's share) and each user's home region."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from ranking.snapshot.arrays import IdRows, codes, with_defaults
from ranking.snapshot.format import ENTITY_FILES

__all__ = ["People", "load_people"]

Read = Callable[[str], pl.DataFrame]


@dataclass(frozen=True)
class People:
    """Person rows are their order in `users.parquet`; row `len(users)` of `user_block` is
    the defaults row (a user the snapshot does not know, or with no history)."""

    user_ids: pl.Series
    user_id_list: list[object]
    user_row: IdRows
    user_country: np.ndarray          # declared country ("" when none), object array
    user_block: np.ndarray
    user_block_cols: list[str]
    region_code: dict[str, int]       # every region a user lives in or a list exists for
    user_region: np.ndarray           # home region code per person row


def load_people(read: Read, defaults: dict[str, dict[str, object]]) -> People:
    users = read("users.parquet")
    ids = users["user_id"].to_list()
    user_f = users.select("user_id").join(read(ENTITY_FILES["user"]), on="user_id",
                                          how="left", maintain_order="left")
    homes = users.select("user_id").join(read("home_region.parquet"), on="user_id",
                                         how="left", maintain_order="left")
    cols = [c for c in user_f.columns if c not in ("user_id", "as_of")]
    block = with_defaults(user_f, cols, defaults["user"])
    block[:-1][~user_f["as_of"].is_not_null().to_numpy()] = block[-1]
    share = homes["home_region_share"].fill_null(0.0).to_numpy()[:, None]
    regions = homes["home_region"].fill_null("unknown")
    listed = read("regional_popularity.parquet")["region"].unique().to_list()
    names = sorted(set(regions.to_list()) | set(listed))
    region_code = {r: n for n, r in enumerate(names)}
    return People(
        user_ids=users["user_id"], user_id_list=ids, user_row=IdRows.of(ids),
        user_country=np.array(users["country"].fill_null("").to_list(), dtype=object),
        user_block=np.hstack([block, np.vstack([share, [[0.0]]])]),
        user_block_cols=[*cols, "user_home_region_share"],
        region_code=region_code, user_region=codes(regions, region_code))
