"""Ranker input rows from the serving snapshot: one matrix per user's candidates, columns
in the ranker's feature order, values equal to the point-in-time SQL's for the same date
(a test holds them equal)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ranking.snapshot.reader import ServingSnapshot
from ranking.snapshot.view import View

__all__ = ["COMPUTED", "FeatureAssembler"]

# Features computed per (user, item) at ranking time rather than read from a table.
COMPUTED = ("content_similarity", "follows_creator", "same_country")


class FeatureAssembler:
    """Built once per (snapshot, feature list); `rows` is the per-request hot path."""

    def __init__(self, snap: ServingSnapshot, names: Sequence[str]) -> None:
        self.snap, self.names = snap, tuple(names)
        where: dict[str, tuple[str, int]] = {}
        for n, col in enumerate(snap.item_block_cols):
            where.setdefault(col, ("item", n))
        for n, col in enumerate(snap.user_block_cols):
            where.setdefault(col, ("user", n))
        for name, (_csr, _matrix, cols) in snap.pairs.items():
            for n, col in enumerate(cols):
                where.setdefault(col, (name, n))
        for n, col in enumerate(COMPUTED):
            where.setdefault(col, ("computed", n))
        missing = [c for c in self.names if c not in where]
        if missing:
            raise KeyError(f"the snapshot has no feature(s) {missing[:5]}: ranker and "
                           "snapshot come from different feature definitions")
        # block -> (destination columns, source columns)
        self.plan: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for dest, col in enumerate(self.names):
            block, src = where[col]
            d, s = self.plan.get(block, ([], []))
            self.plan[block] = ([*d, dest], [*s, src])
        # Slices where the columns run contiguously (they do for every block of the real
        # feature list): assigning a slice of `out` is several times cheaper than fancy
        # indexing its columns, and this is the per-request hot path.
        self.plan = {b: (_as_index(d), _as_index(s)) for b, (d, s) in self.plan.items()}

    def rows(self, user: int, items: np.ndarray, user_vector: np.ndarray | None,
             view: View | None = None) -> np.ndarray:
        """(len(items), len(names)) float64; `user` -1 for someone the snapshot does not
        know, `user_vector` None where the taste vector may not be used; `items` rows of
        `view` (default: the snapshot itself)."""
        snap = self.snap if view is None else view
        out = np.empty((len(items), len(self.names)), dtype=np.float64)
        for block, (dest, src) in self.plan.items():
            if block == "item":
                if snap.n_items == snap.n_base:  # rows first, then columns: not np.ix_
                    out[:, dest] = np.take(self.snap.item_block, items, axis=0)[:, src]
                else:
                    out[:, dest] = snap.take("item_block", items)[:, src]
            elif block == "user":
                out[:, dest] = self.snap.user_block[user, src]
            elif block == "computed":
                computed = self._computed(snap, user, items, user_vector)
                out[:, dest] = computed[:, src]
            else:
                out[:, dest] = self._pair(snap, block, user, items)[:, src]
        return out

    def _pair(self, snap: View, block: str, user: int, items: np.ndarray) -> np.ndarray:
        csr, matrix, _cols = snap.pairs[block]
        defaults, nothing = len(matrix) - 2, len(matrix) - 1
        if block == "user_creator":
            rows = csr.lookup(user, snap.take("item_creator", items), defaults)
        elif block == "user_topic":
            topics = snap.take("item_topic", items)
            rows = np.where(topics >= 0, csr.lookup(user, topics, defaults), nothing)
        else:  # region_item: the user's home region
            region = int(snap.user_region[user]) if user >= 0 else -1
            rows = csr.lookup(region, items, defaults)
        return matrix[rows]

    @staticmethod
    def _computed(snap: View, user: int, items: np.ndarray, user_vector: np.ndarray | None
                  ) -> np.ndarray:
        out = np.empty((len(items), len(COMPUTED)), dtype=np.float64)
        if user_vector is None:
            out[:, 0] = np.nan
        else:
            dots = snap.take("item_vectors", items) @ user_vector
            norm = float(np.linalg.norm(user_vector)) or np.nan
            out[:, 0] = np.where(snap.take("has_vector", items),
                                 dots / (snap.take("item_norms", items) * norm), np.nan)
        creators = snap.take("item_creator", items)
        out[:, 1] = snap.follows.lookup(user, creators, -1) >= 0
        country = int(snap.user_country_code[user]) if user >= 0 else -1
        out[:, 2] = (country >= 0) & (snap.take("item_country", items) == country)
        return out


def _as_index(columns: list[int]) -> slice | np.ndarray:
    """`columns` as a slice when they are a contiguous increasing run, else an array."""
    if columns and columns == list(range(columns[0], columns[0] + len(columns))):
        return slice(columns[0], columns[0] + len(columns))
    return np.array(columns, dtype=np.int64)
