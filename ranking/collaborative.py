"""Collaborative vectors: users and items factorised from co-engagement, saved beside an
item index so the `collaborative` source can serve them through FAISS."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from features.content import EMBEDDING_POINTS
from ranking.ease import fit_ease
from ranking.index import IndexParams, ItemIndex, collaborative_vectors
from reelrank.errors import ReelrankError
from reelrank.settings import Settings

__all__ = ["USERS_FILE", "build_collaborative", "load_user_vectors"]

USERS_FILE = "users.parquet"


def build_collaborative(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date,
                        directory: Path) -> int:
    """The collaborative model of the last window's engagement, replacing the previous one:
    EASE (in `directory`'s sibling `ease/`) for catalogs up to `ease_max_items`, else a
    low-rank factorisation saved as an item index plus user vectors in `directory`.
    Returns the number of items modelled."""
    day = f"DATE '{as_of.isoformat()}'"
    window = f"day < {day} AND day >= {day} - {int(settings.collaborative_window_days)}"
    ease_dir = directory.parent / "ease"
    (items,) = con.execute(f"SELECT count(DISTINCT item_id) FROM engagement_daily "
                           f"WHERE {window} AND impressions > 0").fetchall()[0]
    if 0 < items <= settings.ease_max_items:
        pairs = con.sql(f"SELECT DISTINCT user_id, item_id FROM engagement_daily "
                        f"WHERE {window} AND impressions > 0").pl()
        fit_ease(pairs, settings.ease_lambda).save(ease_dir)
        shutil.rmtree(directory, ignore_errors=True)
        return int(items)
    shutil.rmtree(ease_dir, ignore_errors=True)
    points = " + ".join(f"{p!r} * {col}" for col, p in EMBEDDING_POINTS.items())
    interactions = con.sql(
        f"SELECT user_id, item_id, sum({points})::DOUBLE AS weight FROM engagement_daily "
        f"WHERE day < DATE '{as_of.isoformat()}' "
        f"AND day >= DATE '{as_of.isoformat()}' - {int(settings.collaborative_window_days)} "
        "GROUP BY ALL").pl()
    vectors = collaborative_vectors(interactions, settings.collaborative_dim, settings.seed)
    if not vectors.item_ids:
        raise ReelrankError("no positive engagement to factorise")
    index = ItemIndex.build(vectors.item_ids, vectors.item_vectors,
                            IndexParams(exact_below=settings.ann_exact_below))
    index.save(directory)
    pl.DataFrame({"user_id": vectors.user_ids,
                  "vector": vectors.user_vectors.tolist()}).write_parquet(directory / USERS_FILE)
    return len(vectors.item_ids)


def load_user_vectors(directory: Path) -> dict[object, np.ndarray]:
    table = pl.read_parquet(directory / USERS_FILE)
    return {u: np.asarray(v, dtype=np.float32)
            for u, v in zip(table["user_id"].to_list(), table["vector"].to_list())}
