"""The learned stage's lists in a snapshot (`indexes/learned/lists.parquet`, written by
`ranking.learned`): per user row, the items' snapshot rows best first, as CSR arrays that
freeze and map like every other list. Items the snapshot does not hold are dropped, keeping
the order of the rest."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from ranking.snapshot.arrays import codes

__all__ = ["learned_arrays", "rank_score"]


def rank_score(rank: np.ndarray) -> np.ndarray:
    """A list position as a score in (0, 1]: DCG's discount, so the top places stay apart
    and the tail flattens, as a ranking metric weighs them."""
    return (1.0 / np.log2(np.asarray(rank, dtype=np.float64) + 2.0)).astype(np.float32)


def learned_arrays(directory: Path, user_row: dict, item_row: dict) -> dict[str, np.ndarray]:
    path = directory / "lists.parquet"
    if not path.is_file():
        return {}
    table = pl.read_parquet(path).sort(["user_id", "rank"])
    users = codes(table["user_id"], user_row)
    items = codes(table["item_id"], item_row)
    keep = (users >= 0) & (items >= 0)
    users, items = users[keep], items[keep]
    ranks = table["rank"].to_numpy()[keep]
    order = np.lexsort((ranks, users))  # rows of one user together, best first
    users, items, ranks = users[order], items[order], ranks[order]
    ptr = np.zeros(len(user_row) + 1, dtype=np.int64)
    np.add.at(ptr, users + 1, 1)
    return {"learned.ptr": np.cumsum(ptr), "learned.rows": items.astype(np.int64),
            "learned.scores": rank_score(ranks)}
