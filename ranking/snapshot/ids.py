"""Loader for the snapshot's ids: who and what each row is. Python objects (lists, dicts),
so every process builds its own from the id columns, in about a second at 1M items; the
arrays keyed by those rows are shared (`ranking.snapshot.frozen`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from ranking.snapshot.arrays import IdRows

__all__ = ["Ids", "load_ids"]

Read = Callable[..., pl.DataFrame]


@dataclass(frozen=True)
class Ids:
    """Person rows are their order in `users.parquet`, item rows in `items.parquet`."""

    user_ids: pl.Series
    user_id_list: list[object]
    user_row: IdRows
    user_country: np.ndarray              # declared country ("" when none), object array
    item_ids: pl.Series
    item_id_list: list[object]
    item_row: IdRows
    item_creator_ids: list[object]
    cameo_owners: dict[int, tuple[object, ...]]   # item row -> people in it (ids)


def load_ids(read: Read) -> Ids:
    users = read("users.parquet", columns=["user_id", "country"])
    items = read("items.parquet", columns=["item_id", "creator_id", "cameo_user_ids"])
    user_list, item_list = users["user_id"].to_list(), items["item_id"].to_list()
    return Ids(
        user_ids=users["user_id"], user_id_list=user_list, user_row=IdRows.of(user_list),
        user_country=np.array(users["country"].fill_null("").to_list(), dtype=object),
        item_ids=items["item_id"], item_id_list=item_list, item_row=IdRows.of(item_list),
        item_creator_ids=items["creator_id"].to_list(),
        cameo_owners={n: tuple(owners) for n, owners in
                      enumerate(items["cameo_user_ids"].to_list()) if owners})
