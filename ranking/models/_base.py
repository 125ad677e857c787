"""What every model here shares: bounded params, pairwise scores and top-k from a block scorer,
with the user's own history excluded."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np
from scipy import sparse

__all__ = ["BlockScorer", "bounded", "top_k_rows"]

_BLOCK_BYTES = 128 * 2**20  # one dense score block; bounds memory whatever the catalog


def bounded(owner: object, name: str, lo: float, hi: float, *, integer: bool = False) -> None:
    """Reject `owner.name` unless it is a number in [lo, hi] (an int when `integer`)."""
    value = getattr(owner, name)
    ok_type = (type(value) is int) if integer else isinstance(value, (int, float)) and not \
        isinstance(value, bool)
    if not ok_type or not lo <= value <= hi:
        kind = "an int" if integer else "a number"
        raise ValueError(f"{type(owner).__name__}.{name} must be {kind} in [{lo}, {hi}], "
                         f"got {value!r}")


def top_k_rows(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of each row's k largest entries, best first; ties by lower index."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -vals), axis=1)
    return (np.take_along_axis(part, order, axis=1).astype(np.int32),
            np.take_along_axis(vals, order, axis=1))


class BlockScorer(ABC):
    """A model that scores a block of users against the whole catalog at once.

    `seen` is the (users x items) history the model was fit on; `top(exclude_seen=True)` never
    returns what it holds.
    """

    kind: ClassVar[str]
    seen: sparse.csr_matrix

    @property
    def n_items(self) -> int:
        return self.seen.shape[1]

    @abstractmethod
    def score_block(self, users: np.ndarray) -> np.ndarray:
        """float32 (len(users), n_items): higher is better."""

    def _block_rows(self) -> int:
        return max(1, _BLOCK_BYTES // (4 * max(self.n_items, 1)))

    def _check_users(self, users: np.ndarray) -> np.ndarray:
        users = np.asarray(users, dtype=np.int64)
        n = self.seen.shape[0]
        if users.size and (users.min() < 0 or users.max() >= n):
            raise ValueError(f"user codes must be in [0, {n}), got [{users.min()}, {users.max()}]")
        return users

    def score(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """float32 score of each (users[j], items[j]) pair."""
        users = self._check_users(users)
        items = np.asarray(items, dtype=np.int64)
        if users.shape != items.shape:
            raise ValueError(f"users {users.shape} and items {items.shape} differ in shape")
        out = np.empty(len(users), dtype=np.float32)
        uniq, inverse = np.unique(users, return_inverse=True)
        step = self._block_rows()
        for lo in range(0, len(uniq), step):
            rows = np.flatnonzero((inverse >= lo) & (inverse < lo + step))
            block = self.score_block(uniq[lo:lo + step])
            out[rows] = block[inverse[rows] - lo, items[rows]]
        return out

    def top(self, users: np.ndarray, k: int, exclude_seen: bool = True
            ) -> tuple[np.ndarray, np.ndarray]:
        """(items int32 (n, k), scores float32 (n, k)), best first."""
        users = self._check_users(users)
        if type(k) is not int or k < 1:
            raise ValueError(f"k must be a positive int, got {k!r}")
        k = min(k, self.n_items)
        items = np.empty((len(users), k), dtype=np.int32)
        scores = np.empty((len(users), k), dtype=np.float32)
        step = self._block_rows()
        for lo in range(0, len(users), step):
            block_users = users[lo:lo + step]
            block = np.array(self.score_block(block_users), dtype=np.float32, copy=True)
            if exclude_seen:
                seen = self.seen[block_users]
                block[seen.nonzero()] = -np.inf
            items[lo:lo + step], scores[lo:lo + step] = top_k_rows(block, k)
        return items, scores
