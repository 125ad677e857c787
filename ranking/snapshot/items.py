"""Loader for the snapshot's items: ids and per-item arrays by row, and the per-item block of
ranker features (static columns, item features, creator features)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from ranking.snapshot.arrays import Csr, IdRows, codes, with_defaults
from ranking.snapshot.format import ENTITY_FILES

__all__ = ["ITEM_STATIC", "Items", "load_items"]

# Per-item columns exported with the items, used directly as ranker features.
ITEM_STATIC = ("item_age_hours", "item_duration_s", "item_cameo_count", "item_is_remix",
               "item_sensitive")

Read = Callable[[str], pl.DataFrame]


@dataclass(frozen=True)
class Items:
    """Item rows are their order in `items.parquet` (item id order)."""

    items: pl.DataFrame
    item_ids: pl.Series
    item_id_list: list[object]
    item_row: IdRows
    item_creator: np.ndarray          # creator's person row (-1: unknown person)
    item_creator_ids: list[object]
    topic_code: dict[object, int]
    item_topic: np.ndarray            # -1: no topic
    item_created_s: np.ndarray
    item_unservable: np.ndarray       # labelled unsafe
    item_label: np.ndarray            # safety label text (object array)
    item_impressions: np.ndarray      # before the snapshot date
    item_cap_key: np.ndarray          # what the per-creator cap counts
    cameo_owners: dict[int, tuple[object, ...]]
    cameo_people: Csr                 # row -> person rows in its cameos, other than the creator
    item_block: np.ndarray
    item_block_cols: list[str]
    item_same_country_key: np.ndarray
    item_defaults: np.ndarray         # the item features of an item with no history
    creator_features: np.ndarray      # person row -> creator features (last row: defaults)


def load_items(read: Read, user_row: IdRows, user_ids: pl.Series,
               defaults: dict[str, dict[str, object]]) -> Items:
    items = read("items.parquet")
    item_id_list = items["item_id"].to_list()
    n_users, n_items = len(user_row), items.height
    creator = codes(items["creator_id"], user_row)
    topics = items["topic"].drop_nulls().unique().sort().to_list()
    topic_code = {t: n for n, t in enumerate(topics)}

    item_f = items.select("item_id").join(read(ENTITY_FILES["item"]), on="item_id",
                                          how="left", maintain_order="left")
    creator_table = read(ENTITY_FILES["creator"])
    creator_f = items.select("creator_id").join(creator_table, on="creator_id", how="left",
                                                maintain_order="left")
    item_cols = [c for c in item_f.columns if c not in ("item_id", "as_of")]
    creator_cols = [c for c in creator_f.columns if c not in ("creator_id", "as_of")]
    item_m = with_defaults(item_f, item_cols, defaults["item"])
    creator_m = with_defaults(creator_f, creator_cols, defaults["creator"])
    item_m[:-1][~item_f["as_of"].is_not_null().to_numpy()] = item_m[-1]
    creator_m[:-1][~creator_f["as_of"].is_not_null().to_numpy()] = creator_m[-1]
    static = items.select(ITEM_STATIC).cast(pl.Float64).to_numpy()
    # Creator features by person, for items that arrive after the snapshot.
    by_person = pl.DataFrame({"creator_id": user_ids}).join(
        creator_table, on="creator_id", how="left", maintain_order="left")
    by_person_m = with_defaults(by_person, creator_cols, defaults["creator"])
    by_person_m[:-1][~by_person["as_of"].is_not_null().to_numpy()] = by_person_m[-1]

    return Items(
        items=items, item_ids=items["item_id"], item_id_list=item_id_list,
        item_row=IdRows.of(item_id_list), item_creator=creator,
        item_creator_ids=items["creator_id"].to_list(), topic_code=topic_code,
        item_topic=codes(items["topic"], topic_code),
        item_created_s=items["created_s"].to_numpy(),
        item_unservable=(items["safety_label"] == "unsafe").fill_null(False).to_numpy(),
        item_label=items["safety_label"].fill_null("unrated").to_numpy().astype(object),
        item_impressions=items["impressions_before"].to_numpy(),
        # The creator, except a log's stand-in creator, where each item counts as its own.
        item_cap_key=np.where(items["stand_in_creator"].to_numpy(),
                              n_users + np.arange(n_items), creator),
        cameo_owners={n: tuple(owners) for n, owners in
                      enumerate(items["cameo_user_ids"].to_list()) if owners},
        cameo_people=_cameo_people(items, user_row),
        item_block=np.hstack([static, item_m[:-1], creator_m[:-1]]),
        item_block_cols=[*ITEM_STATIC, *item_cols, *creator_cols],
        item_same_country_key=items["creator_country"].fill_null("").to_numpy().astype(object),
        item_defaults=item_m[-1], creator_features=by_person_m)


def _cameo_people(items: pl.DataFrame, user_row: IdRows) -> Csr:
    """Item row -> the people (user rows; -1 for someone the snapshot does not know) in
    its cameo list other than its creator: whose grants the consent filter checks."""
    pairs = (items.select(pl.int_range(pl.len()).alias("row"), "creator_id",
                          pl.col("cameo_user_ids").alias("person"))
             .explode("person").filter(pl.col("person").is_not_null()
                                       & (pl.col("person") != pl.col("creator_id"))))
    people = codes(pairs["person"], user_row)
    return Csr.build(pairs["row"].to_numpy().astype(np.int64), people, items.height)
