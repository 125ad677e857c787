"""Loader for the per-user lists: the people a user follows or is friends with, what each
user has seen, and each creator's items newest first."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from ranking.snapshot.arrays import Csr, codes

__all__ = ["Graph", "load_graph"]

Read = Callable[[str], pl.DataFrame]


@dataclass(frozen=True)
class Graph:
    people: Csr       # user row -> followed people and friends (person rows)
    follows: Csr
    friends: Csr      # symmetric
    by_creator: Csr   # creator row -> item rows, newest first
    seen: Csr         # user row -> item rows shown before the snapshot date


def load_graph(read: Read, *, user_row: dict, item_row: dict, item_creator: np.ndarray,
               item_created_s: np.ndarray) -> Graph:
    n_users = len(user_row)
    graph = read("graph.parquet")
    user, author = codes(graph["user_id"], user_row), codes(graph["author"], user_row)
    ok = (user >= 0) & (author >= 0)
    follows = graph["follows"].to_numpy() & ok
    friends = ~graph["follows"].to_numpy() & ok
    seen = read("seen.parquet")
    s_user, s_item = codes(seen["user_id"], user_row), codes(seen["item_id"], item_row)
    seen_ok = (s_user >= 0) & (s_item >= 0)
    return Graph(
        people=Csr.build(user[ok], author[ok], n_users),
        follows=Csr.build(user[follows], author[follows], n_users),
        friends=Csr.build(user[friends], author[friends], n_users),
        by_creator=Csr.build(item_creator, -item_created_s, n_users,
                             np.arange(len(item_created_s))),
        seen=Csr.build(s_user[seen_ok], s_item[seen_ok], n_users))
