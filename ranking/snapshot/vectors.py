"""Loader for the content vectors: every item's caption embedding by row (zeros where none),
and each user's taste vector with whether it was built from chat interests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from ranking.snapshot.arrays import codes, matrix

__all__ = ["Vectors", "load_vectors"]

Read = Callable[[str], pl.DataFrame]


@dataclass(frozen=True)
class Vectors:
    item_vectors: np.ndarray            # float32 (items, dim)
    has_vector: np.ndarray
    item_norms: np.ndarray              # NaN where an item has no vector
    user_vectors: dict[int, np.ndarray]
    user_vector_from_chat: np.ndarray   # by person row


def load_vectors(read: Read, *, item_row: dict, user_row: dict) -> Vectors:
    items = read("item_embeddings.parquet")
    rows = codes(items["item_id"], item_row)
    ok = rows >= 0
    vectors = matrix(items["embedding"])
    item_vectors = np.zeros((len(item_row), vectors.shape[1]), dtype=np.float32)
    item_vectors[rows[ok]] = vectors[ok]
    has = np.zeros(len(item_row), dtype=bool)
    has[rows[ok]] = True
    norms = np.linalg.norm(item_vectors, axis=1)

    users = read("user_embeddings.parquet")
    from_chat = np.zeros(len(user_row), dtype=bool)
    user_vectors: dict[int, np.ndarray] = {}
    if users.height:
        rows = codes(users["user_id"], user_row)
        taste = matrix(users["embedding"])
        chat = users["from_chat"].fill_null(False).to_numpy()
        for n, row in enumerate(rows.tolist()):
            if row >= 0:
                user_vectors[row] = taste[n]
                from_chat[row] = chat[n]
    return Vectors(item_vectors, has, np.where(norms > 0, norms, np.nan), user_vectors,
                   from_chat)
