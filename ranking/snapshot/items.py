"""Arrays of the snapshot's items, by row: creator, topic, age, safety rating, impressions,
what the per-creator cap counts, the people in each item's cameos, the per-item block of
ranker features (static columns, item features, creator features), and each item's caption
and prompt text as UTF-8 bytes with offsets (what muted words are matched against)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl

from ranking.snapshot.arrays import Csr, codes, with_defaults
from ranking.snapshot.format import ENTITY_FILES
from ranking.snapshot.ids import Ids

__all__ = ["ITEM_STATIC", "RATINGS", "item_arrays", "text_arrays"]

# Per-item columns exported with the items, used directly as ranker features.
ITEM_STATIC = ("item_age_hours", "item_duration_s", "item_cameo_count", "item_is_remix",
               "item_sensitive")
# Safety ratings by code (`item_rating`); anything else, or none, counts as unrated.
RATINGS = ("safe", "sensitive", "unsafe", "unrated")

Read = Callable[..., pl.DataFrame]


def item_arrays(read: Read, ids: Ids, defaults: dict[str, dict[str, object]],
                country_code: dict[str, int]) -> tuple[dict[str, np.ndarray], dict]:
    items = read("items.parquet")
    n_users, n_items = len(ids.user_row), items.height
    creator = codes(items["creator_id"], ids.user_row)
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
    by_person = pl.DataFrame({"creator_id": ids.user_ids}).join(
        creator_table, on="creator_id", how="left", maintain_order="left")
    by_person_m = with_defaults(by_person, creator_cols, defaults["creator"])
    by_person_m[:-1][~by_person["as_of"].is_not_null().to_numpy()] = by_person_m[-1]
    rating = {r: n for n, r in enumerate(RATINGS)}
    people = _cameo_people(items, ids)
    arrays = {
        "item_creator": creator,
        "item_topic": codes(items["topic"], topic_code),
        "item_created_s": items["created_s"].to_numpy(),
        "item_unservable": (items["safety_label"] == "unsafe").fill_null(False).to_numpy(),
        "item_rating": np.array([rating.get(r, rating["unrated"]) for r in
                                 items["safety_label"].to_list()], dtype=np.int8),
        "item_impressions": items["impressions_before"].to_numpy(),
        # The creator, except a log's stand-in creator, where each item counts as its own.
        "item_cap_key": np.where(items["stand_in_creator"].to_numpy(),
                                 n_users + np.arange(n_items), creator),
        "cameo_people.ptr": people.ptr, "cameo_people.values": people.values,
        "item_block": np.hstack([static, item_m[:-1], creator_m[:-1]]),
        "item_country": np.array([country_code.get(c, -1) for c in
                                  items["creator_country"].fill_null("").to_list()],
                                 dtype=np.int32),
        "item_defaults": item_m[-1],
        "creator_features": by_person_m,
        **text_arrays(items["text"] if "text" in items.columns else None, n_items),
    }
    return arrays, {"item_block_cols": [*ITEM_STATIC, *item_cols, *creator_cols],
                    "topics": topics}


def _cameo_people(items: pl.DataFrame, ids: Ids) -> Csr:
    """Item row -> the people (user rows; -1 for someone the snapshot does not know) in
    its cameo list other than its creator: whose grants the consent filter checks."""
    pairs = (items.select(pl.int_range(pl.len()).alias("row"), "creator_id",
                          pl.col("cameo_user_ids").alias("person"))
             .explode("person").filter(pl.col("person").is_not_null()
                                       & (pl.col("person") != pl.col("creator_id"))))
    people = codes(pairs["person"], ids.user_row)
    return Csr.build(pairs["row"].to_numpy().astype(np.int64), people, items.height)


def text_arrays(texts: pl.Series | None, n: int) -> dict[str, np.ndarray]:
    """Each item's text (caption and prompt; "" when none) as `item_text.bytes`, UTF-8, and
    `item_text.ptr`, where item row r's text is bytes[ptr[r]:ptr[r + 1]]: mappable, unlike
    Python strings. A snapshot table without a text column (an older writer) gives ""."""
    encoded = ([t.encode() for t in texts.fill_null("").to_list()] if texts is not None
               else [b""] * n)
    ptr = np.zeros(n + 1, dtype=np.int64)
    ptr[1:] = np.cumsum([len(t) for t in encoded], dtype=np.int64)
    return {"item_text.ptr": ptr,
            "item_text.bytes": np.frombuffer(b"".join(encoded), dtype=np.uint8).copy()}
