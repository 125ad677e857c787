"""Popularity measured on the log's own clock: a window is a share of all interactions, not a
number of days, so it means the same on a log that spans a week or a decade and stays sane when
timestamps bunch (a window of tied stamps widens to hold them all).

`TimeIndex` answers "how often was item i taken between t0 and t1" for many pairs at once; it
also feeds the second stage's trend and age features. `PopularityModel` is a candidate source:
items most taken in a window around each user's reference time (their last interaction), or of
all time when `share` is 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from scipy import sparse

from ranking.models._base import BlockScorer, bounded
from ranking.models._io import load_arrays, pack_csr, save_arrays, unpack_csr
from ranking.models.interactions import Interactions

__all__ = ["PopularityModel", "PopularityParams", "TimeIndex", "fit_popularity"]


class TimeIndex:
    """The log's events sorted by time and by (item, time), for windowed counts."""

    def __init__(self, ts: np.ndarray, items: np.ndarray, n_items: int) -> None:
        order = np.argsort(ts, kind="stable")
        self.ts_sorted = np.asarray(ts, dtype=np.float64)[order]
        self.items_by_time = np.asarray(items, dtype=np.int64)[order]
        self.n_items = n_items
        self._uniq = np.unique(self.ts_sorted)
        by_item = np.lexsort((self.ts_sorted, self.items_by_time))
        rank = np.searchsorted(self._uniq, self.ts_sorted[by_item])
        self._mult = len(self._uniq) + 1
        self._keys = self.items_by_time[by_item] * self._mult + rank

    @classmethod
    def of(cls, interactions: Interactions) -> TimeIndex:
        return cls(interactions.ts, interactions.items, interactions.n_items)

    def __len__(self) -> int:
        return len(self.ts_sorted)

    def position(self, ts: np.ndarray) -> np.ndarray:
        """How many events happened at or before each ts."""
        return np.searchsorted(self.ts_sorted, ts, side="right")

    def window(self, ref: np.ndarray, share: float, forward: bool) -> tuple[np.ndarray,
                                                                           np.ndarray]:
        """(lo, hi) timestamps of the `share` of events just before ref (inclusive), or just
        after it (exclusive of ref) when `forward`."""
        n = len(self)
        width = max(round(share * n), 1)
        pos = self.position(ref)
        if forward:
            hi = self.ts_sorted[np.clip(pos + width - 1, 0, n - 1)]
            lo = np.nextafter(np.asarray(ref, dtype=np.float64), np.inf)
            return lo, np.where(pos >= n, lo - 1.0, hi)
        lo = self.ts_sorted[np.clip(pos - width, 0, n - 1)]
        return lo, np.asarray(ref, dtype=np.float64)

    def counts(self, items: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """float32 count of item[j]'s events with lo[j] <= ts <= hi[j]."""
        items = np.asarray(items, dtype=np.int64)
        lo_rank = np.searchsorted(self._uniq, lo, side="left")
        hi_rank = np.searchsorted(self._uniq, hi, side="right")
        a = np.searchsorted(self._keys, items * self._mult + lo_rank, side="left")
        b = np.searchsorted(self._keys, items * self._mult + hi_rank, side="left")
        return np.maximum(b - a, 0).astype(np.float32)

    @cached_property
    def first_ts(self) -> np.ndarray:
        out = np.full(self.n_items, np.inf)
        np.minimum.at(out, self.items_by_time, self.ts_sorted)
        return out

    @cached_property
    def last_ts(self) -> np.ndarray:
        out = np.full(self.n_items, -np.inf)
        np.maximum.at(out, self.items_by_time, self.ts_sorted)
        return out


@dataclass(frozen=True)
class PopularityParams:
    """`share`: the window, as a share of all events, taken on each side of the reference
    time (1.0 = all time, the classic most-popular)."""

    share: float = 1.0

    def __post_init__(self) -> None:
        bounded(self, "share", 1e-5, 1.0)


@dataclass(frozen=True, eq=False)
class PopularityModel(BlockScorer):
    ts_sorted: np.ndarray
    items_by_time: np.ndarray
    ref: np.ndarray  # float64 per user: the time the user is asked about
    seen: sparse.csr_matrix
    params: PopularityParams
    kind = "popularity"

    @cached_property
    def _index(self) -> TimeIndex:
        return TimeIndex(self.ts_sorted, self.items_by_time, self.seen.shape[1])

    @cached_property
    def _all_time(self) -> np.ndarray:
        return np.bincount(self.items_by_time, minlength=self.n_items).astype(np.float32)

    def score_block(self, users: np.ndarray) -> np.ndarray:
        # Ties broken by all-time popularity so a thin window still ranks every item.
        base = self._all_time / (self._all_time.max() + 1.0)
        if self.params.share >= 1.0:
            return np.broadcast_to(base, (len(users), self.n_items)).copy()
        index = self._index
        ref = self.ref[users]
        lo, _ = index.window(ref, self.params.share, forward=False)
        _, hi = index.window(ref, self.params.share, forward=True)
        a = np.searchsorted(index.ts_sorted, lo, side="left")
        b = np.searchsorted(index.ts_sorted, np.maximum(hi, ref), side="right")
        out = np.empty((len(users), self.n_items), dtype=np.float32)
        for row, (s, e) in enumerate(zip(a, b)):
            out[row] = np.bincount(index.items_by_time[s:e], minlength=self.n_items) + base
        return out

    def save(self, directory: Path) -> Path:
        return save_arrays(directory, self.kind, {
            "ts_sorted": self.ts_sorted, "items_by_time": self.items_by_time, "ref": self.ref,
            **pack_csr("seen", self.seen)}, {"share": self.params.share})

    @classmethod
    def load(cls, directory: Path) -> PopularityModel:
        a, meta = load_arrays(directory, cls.kind)
        return cls(a["ts_sorted"], a["items_by_time"], a["ref"], unpack_csr("seen", a),
                   PopularityParams(**meta))


def fit_popularity(interactions: Interactions, params: PopularityParams, seed: int = 0,
                   ref: np.ndarray | None = None) -> PopularityModel:
    """`ref`: each user's reference time (default: their last interaction here)."""
    del seed
    index = TimeIndex.of(interactions)
    ref = interactions.last_ts() if ref is None else np.asarray(ref, dtype=np.float64)
    if ref.shape != (interactions.n_users,):
        raise ValueError(f"ref must hold one time per user ({interactions.n_users}), got "
                         f"{ref.shape}")
    ref = np.where(np.isfinite(ref), ref, index.ts_sorted[-1])
    return PopularityModel(index.ts_sorted, index.items_by_time, ref, interactions.matrix,
                           params)
