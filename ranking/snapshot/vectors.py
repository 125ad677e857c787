"""Arrays of the content vectors: every item's caption embedding by row (zeros where none),
each user's taste vector by row, and whether it was built from chat interests; plus the
collaborative model's user vectors, where it has them."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import numpy as np
import polars as pl

from ranking.snapshot.arrays import codes, matrix

__all__ = ["RowVectors", "collab_user_arrays", "vector_arrays"]

Read = Callable[..., pl.DataFrame]


class RowVectors(Mapping):
    """row -> vector, over a (rows, dim) matrix and a mask of the rows that have one."""

    def __init__(self, vectors: np.ndarray, has: np.ndarray) -> None:
        self.vectors, self.has = vectors, has

    def __getitem__(self, row: int) -> np.ndarray:
        if 0 <= row < len(self.has) and self.has[row]:
            return self.vectors[row]
        raise KeyError(row)

    def __iter__(self) -> Iterator[int]:
        return iter(np.flatnonzero(self.has).tolist())

    def __len__(self) -> int:
        return int(self.has.sum())


def _by_row(ids: pl.Series, vectors: pl.Series, index: dict, n: int
            ) -> tuple[np.ndarray, np.ndarray]:
    rows = codes(ids, index)
    ok = rows >= 0
    values = matrix(vectors)
    out = np.zeros((n, values.shape[1] if values.size else 0), dtype=np.float32)
    out[rows[ok]] = values[ok]
    has = np.zeros(n, dtype=bool)
    has[rows[ok]] = True
    return out, has


def vector_arrays(read: Read, *, item_row: dict, user_row: dict) -> dict[str, np.ndarray]:
    items = read("item_embeddings.parquet")
    item_vectors, has = _by_row(items["item_id"], items["embedding"], item_row, len(item_row))
    norms = np.linalg.norm(item_vectors, axis=1)
    users = read("user_embeddings.parquet")
    user_vectors, user_has = _by_row(users["user_id"], users["embedding"], user_row,
                                     len(user_row))
    chat = np.zeros(len(user_row), dtype=bool)
    rows = codes(users["user_id"], user_row)
    chat[rows[rows >= 0]] = users["from_chat"].fill_null(False).to_numpy()[rows >= 0]
    return {"item_vectors": item_vectors, "has_vector": has,
            "item_norms": np.where(norms > 0, norms, np.nan),
            "user_vectors.matrix": user_vectors, "user_vectors.has": user_has,
            "user_vector_from_chat": chat}


def collab_user_arrays(directory: Path, user_row: dict) -> dict[str, np.ndarray]:
    path = directory / "users.parquet"
    if not path.is_file():
        return {}
    table = pl.read_parquet(path)
    vectors, has = _by_row(table["user_id"], table["vector"], user_row, len(user_row))
    return {"collab_users.matrix": vectors, "collab_users.has": has}
