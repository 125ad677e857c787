"""Interactions: a (user_id, item_id, ts) log coded into dense integer ids, shared by every
model in this package.

Rows are kept sorted by (user, ts, a seeded tie-break). The tie-break is random rather than by
item id because real logs often stamp a whole batch with one second (half of MovieLens-100k's
consecutive ratings tie); ordering ties by id would teach order-aware models the id, not the
user. Subsets (`take`) keep the coding, so a validation carve and its fit part score the same
item codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import polars as pl
from scipy import sparse

__all__ = ["Interactions", "code_interactions"]

_COLUMNS = ("user_id", "item_id", "ts")


@dataclass(frozen=True, eq=False)
class Interactions:
    """Coded log. `user_ids[c]` / `item_ids[c]` are the original ids of code c."""

    user_ids: np.ndarray
    item_ids: np.ndarray
    users: np.ndarray  # int32 code per row
    items: np.ndarray  # int32 code per row
    ts: np.ndarray  # float64 per row

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def __len__(self) -> int:
        return len(self.users)

    @cached_property
    def matrix(self) -> sparse.csr_matrix:
        """Binary float32 (users x items); a repeated (user, item) counts once."""
        m = sparse.csr_matrix((np.ones(len(self), dtype=np.float32), (self.users, self.items)),
                              shape=(self.n_users, self.n_items))
        m.sum_duplicates()
        m.data[:] = 1.0
        return m

    @cached_property
    def user_starts(self) -> np.ndarray:
        """Row offsets: user c's rows are `starts[c]:starts[c + 1]` (in time order)."""
        return np.searchsorted(self.users, np.arange(self.n_users + 1)).astype(np.int64)

    def take(self, mask: np.ndarray) -> Interactions:
        """The rows where `mask` holds, with the same coding (and so the same shapes)."""
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != self.users.shape:
            raise ValueError(f"mask has shape {mask.shape}, the log has {len(self)} rows")
        return Interactions(self.user_ids, self.item_ids, self.users[mask], self.items[mask],
                            self.ts[mask])

    def last_ts(self) -> np.ndarray:
        """Each user's latest timestamp (-inf for a user with no row here)."""
        out = np.full(self.n_users, -np.inf)
        np.maximum.at(out, self.users, self.ts)
        return out

    def recent_items(self, length: int) -> np.ndarray:
        """int64 (users, length): each user's last `length` item codes, oldest first,
        left-padded with -1."""
        out = np.full((self.n_users, length), -1, dtype=np.int64)
        starts = self.user_starts
        pos_from_end = starts[self.users + 1] - 1 - np.arange(len(self))
        keep = pos_from_end < length
        out[self.users[keep], length - 1 - pos_from_end[keep]] = self.items[keep]
        return out


def code_interactions(frame: pl.DataFrame, seed: int = 0) -> Interactions:
    """Code a frame with columns user_id, item_id, ts (numeric or datetime) into dense ids.

    Ids are coded in sorted order, so the coding does not depend on row order; rows are sorted
    by (user, ts) with ties broken by a permutation drawn from `seed`.
    """
    if not isinstance(frame, pl.DataFrame):
        raise TypeError(f"expected a polars DataFrame, got {type(frame).__name__}")
    missing = [c for c in _COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"interactions lack column(s) {missing}; got {frame.columns}")
    if frame.is_empty():
        raise ValueError("no interactions: the frame has 0 rows")
    nulls = {c: frame[c].null_count() for c in _COLUMNS if frame[c].null_count()}
    if nulls:
        raise ValueError(f"interactions have nulls: {nulls}")
    ts_col = frame["ts"]
    if ts_col.dtype.is_temporal():
        ts_col = ts_col.dt.epoch("s")
    if not ts_col.dtype.is_numeric():
        raise ValueError(f"ts must be numeric or temporal, got {frame.schema['ts']}")
    ts = ts_col.cast(pl.Float64).to_numpy()
    if not np.isfinite(ts).all():
        raise ValueError("ts has non-finite values")
    user_ids, users = np.unique(frame["user_id"].to_numpy(), return_inverse=True)
    item_ids, items = np.unique(frame["item_id"].to_numpy(), return_inverse=True)
    tie = np.random.default_rng(seed).permutation(len(ts))
    order = np.lexsort((tie, ts, users))
    return Interactions(user_ids, item_ids, users[order].astype(np.int32),
                        items[order].astype(np.int32), ts[order])
