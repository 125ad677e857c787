"""Collaborative vectors: users and items factorised from co-engagement, saved beside an
item index so the `collaborative` source can serve them through FAISS."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path
from typing import NamedTuple

import duckdb
import numpy as np
import polars as pl
from scipy import sparse
from scipy.sparse.linalg import svds

from features.content import EMBEDDING_POINTS
from ranking.ease import fit_ease
from ranking.index import MAX_DIM, IndexParams, ItemId, ItemIndex
from reelrank.errors import ReelrankError
from reelrank.settings import Settings

__all__ = [
    "USERS_FILE", "CollaborativeVectors", "build_collaborative", "collaborative_vectors",
    "load_user_vectors",
]

USERS_FILE = "users.parquet"


def build_collaborative(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date,
                        directory: Path) -> int:
    """The collaborative model of the last window's engagement, replacing the previous one:
    EASE (in `directory`'s sibling `ease/`) for catalogs up to `ease_max_items`, else a
    low-rank factorisation saved as an item index plus user vectors in `directory`.
    Returns the number of items modelled."""
    window = {"day": as_of, "days": int(settings.collaborative_window_days)}
    in_window = "day < $day AND day >= $day - $days::INTEGER"
    ease_dir = directory.parent / "ease"
    (items,) = con.execute(f"SELECT count(DISTINCT item_id) FROM engagement_daily "
                           f"WHERE {in_window} AND impressions > 0", window).fetchall()[0]
    if 0 < items <= settings.ease_max_items:
        pairs = con.sql(f"SELECT DISTINCT user_id, item_id FROM engagement_daily "
                        f"WHERE {in_window} AND impressions > 0", params=window).pl()
        fit_ease(pairs, settings.ease_lambda).save(ease_dir)
        shutil.rmtree(directory, ignore_errors=True)
        return int(items)
    shutil.rmtree(ease_dir, ignore_errors=True)
    # Column names and weights from the constant EMBEDDING_POINTS, never user text.
    points = " + ".join(f"{p!r} * {col}" for col, p in EMBEDDING_POINTS.items())
    interactions = con.sql(
        f"SELECT user_id, item_id, sum({points})::DOUBLE AS weight FROM engagement_daily "
        f"WHERE {in_window} GROUP BY ALL", params=window).pl()
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


class CollaborativeVectors(NamedTuple):
    """Unit vectors learned from co-engagement; ids keep the input's Python types."""

    item_ids: list[ItemId]
    item_vectors: np.ndarray  # float32 (items, d), d <= the dim asked for
    user_ids: list[ItemId]
    user_vectors: np.ndarray  # float32 (users, d)


def collaborative_vectors(interactions: pl.DataFrame, dim: int, seed: int
                          ) -> CollaborativeVectors:
    """Users and items embedded by a rank-`dim` truncated SVD of the (user x item) matrix.

    Weights of repeated (user, item) rows add up; pairs whose total is <= 0 are left out,
    since negative feedback is the filters' and the ranker's job, not co-engagement. With
    A ~ U S V^T, users are rows of U S^1/2 and items rows of V S^1/2, each L2-normalised, so
    user . item ranks items as the low-rank reconstruction of A does (up to item norm) and
    item . item is co-engagement similarity. `dim` is lowered to min(users, items) when
    there are fewer of either. Rows whose projection is ~0 (outside the top components) are
    dropped rather than normalised into noise. With no positive pair at all every output
    is empty (vectors keep `dim` columns). Deterministic for a seed: ARPACK starts from a
    seeded vector, rows are ordered by id, and each component's sign is fixed.
    """
    missing = {"user_id", "item_id", "weight"} - set(interactions.columns)
    if missing:
        raise ValueError(f"interactions lacks column(s) {sorted(missing)}; has "
                         f"{interactions.columns}")
    if type(dim) is not int or not 1 <= dim <= MAX_DIM:
        raise ValueError(f"dim must be an int in [1, {MAX_DIM}], got {dim!r}")
    if not interactions.schema["weight"].is_numeric():
        raise ValueError(f"weight must be numeric, got {interactions.schema['weight']}")
    bad = interactions.select(pl.col("user_id").null_count() + pl.col("item_id").null_count()
                              + (~pl.col("weight").cast(pl.Float64).is_finite()).sum()
                              + pl.col("weight").null_count()).item()
    if bad:
        raise ValueError(f"interactions has {bad} null id(s) or non-finite weight(s)")
    pairs = (interactions.lazy().select("user_id", "item_id", pl.col("weight").cast(pl.Float64))
             .group_by("user_id", "item_id").agg(pl.col("weight").sum())
             .filter(pl.col("weight") > 0).collect())
    if pairs.height == 0:
        empty = np.zeros((0, dim), dtype=np.float32)
        return CollaborativeVectors([], empty, [], empty.copy())
    users = pairs.select(pl.col("user_id").unique().sort()).with_row_index("u")
    items = pairs.select(pl.col("item_id").unique().sort()).with_row_index("i")
    coded = pairs.join(users, on="user_id").join(items, on="item_id")
    matrix = sparse.csr_matrix(
        (coded["weight"].to_numpy(), (coded["u"].to_numpy(), coded["i"].to_numpy())),
        shape=(users.height, items.height))
    rank = min(dim, *matrix.shape)
    if rank < min(matrix.shape):
        rng = np.random.default_rng(seed)
        left, values, right = svds(matrix, k=rank, v0=rng.uniform(-1, 1, min(matrix.shape)),
                                   rng=rng)
    else:  # ARPACK needs rank < min(shape); a matrix this thin is small enough to densify
        left, values, right = np.linalg.svd(matrix.toarray(), full_matrices=False)
    order = np.argsort(-values)[:rank]
    left, values, right = left[:, order], values[order], right[order].T
    signs = np.sign(right[np.abs(right).argmax(axis=0), np.arange(rank)])
    signs[signs == 0] = 1
    scale = np.sqrt(np.maximum(values, 0)) * signs
    item_ids, item_vectors = _unit_kept(items["item_id"], right * scale)
    user_ids, user_vectors = _unit_kept(users["user_id"], left * scale)
    return CollaborativeVectors(item_ids, item_vectors, user_ids, user_vectors)


def _unit_kept(ids: pl.Series, vectors: np.ndarray) -> tuple[list[ItemId], np.ndarray]:
    norms = np.linalg.norm(vectors, axis=1)
    keep = norms > 1e-9 * max(float(norms.max(initial=0)), 1e-300)
    unit = (vectors[keep] / norms[keep, None]).astype(np.float32)
    return ids.filter(pl.Series(keep)).to_list(), unit
