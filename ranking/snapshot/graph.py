"""Arrays of the per-user lists, as CSR: the people a user follows or is friends with, what
each user has seen, and each creator's items newest first."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl

from ranking.snapshot.arrays import Csr, codes

__all__ = ["GRAPH_LISTS", "graph_arrays"]

Read = Callable[..., pl.DataFrame]
GRAPH_LISTS = ("people", "follows", "friends", "by_creator", "seen")


def graph_arrays(read: Read, *, user_row: dict, item_row: dict, item_creator: np.ndarray,
                 item_created_s: np.ndarray) -> dict[str, np.ndarray]:
    n_users = len(user_row)
    graph = read("graph.parquet")
    user, author = codes(graph["user_id"], user_row), codes(graph["author"], user_row)
    ok = (user >= 0) & (author >= 0)
    follows = graph["follows"].to_numpy() & ok
    friends = ~graph["follows"].to_numpy() & ok
    seen = read("seen.parquet")
    s_user, s_item = codes(seen["user_id"], user_row), codes(seen["item_id"], item_row)
    seen_ok = (s_user >= 0) & (s_item >= 0)
    lists = {
        "people": Csr.build(user[ok], author[ok], n_users),   # followed people and friends
        "follows": Csr.build(user[follows], author[follows], n_users),
        "friends": Csr.build(user[friends], author[friends], n_users),  # symmetric
        "by_creator": Csr.build(item_creator, -item_created_s, n_users,  # newest first
                                np.arange(len(item_created_s))),
        "seen": Csr.build(s_user[seen_ok], s_item[seen_ok], n_users),  # before the date
    }
    out = {}
    for name, csr in lists.items():
        out[f"{name}.ptr"], out[f"{name}.values"] = csr.ptr, csr.values
        if csr.rows is not None:
            out[f"{name}.rows"] = csr.rows
    return out
