"""Item-kNN (Sarwar et al. 2001; Deshpande & Karypis 2004): each item keeps its K most
cosine-similar items; a user's score for item j sums the similarity of j's neighbours the user
holds. With `half_life` > 0 the history is weighted by recency, 2^(-steps back / half_life),
so the user's last items speak loudest (an order-aware variant; off on logs without order).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse

from ranking.models._base import BlockScorer, bounded
from ranking.models._io import load_arrays, pack_csr, save_arrays, unpack_csr
from ranking.models.interactions import Interactions

__all__ = ["ItemKnnModel", "ItemKnnParams", "fit_itemknn", "recency_history"]

_SIM_BLOCK = 1024  # items per block of the similarity computation


@dataclass(frozen=True)
class ItemKnnParams:
    k: int = 50
    half_life: float = 0.0  # in items; 0 = every held item counts 1

    def __post_init__(self) -> None:
        bounded(self, "k", 1, 5000, integer=True)
        bounded(self, "half_life", 0.0, 1e6)


@dataclass(frozen=True, eq=False)
class ItemKnnModel(BlockScorer):
    neighbours: sparse.csr_matrix  # (items, items): row j holds j's K neighbours' similarity
    history: sparse.csr_matrix  # (users, items) weights a user's items by
    seen: sparse.csr_matrix
    params: ItemKnnParams
    kind = "itemknn"

    def score_block(self, users: np.ndarray) -> np.ndarray:
        return np.asarray((self.history[users] @ self.neighbours.T).toarray(), dtype=np.float32)

    def save(self, directory: Path) -> Path:
        return save_arrays(directory, self.kind, {
            **pack_csr("neighbours", self.neighbours), **pack_csr("history", self.history),
            **pack_csr("seen", self.seen)}, {"k": self.params.k,
                                             "half_life": self.params.half_life})

    @classmethod
    def load(cls, directory: Path) -> ItemKnnModel:
        arrays, meta = load_arrays(directory, cls.kind)
        return cls(unpack_csr("neighbours", arrays), unpack_csr("history", arrays),
                   unpack_csr("seen", arrays), ItemKnnParams(**meta))


def cosine_neighbours(x: sparse.csr_matrix, k: int) -> sparse.csr_matrix:
    """Row i: the k items most cosine-similar to item i (never i itself), similarity > 0."""
    n = x.shape[1]
    xt = x.T.tocsr()
    norms = np.sqrt(np.asarray(x.sum(axis=0)).ravel()).astype(np.float32)
    norms[norms == 0] = 1.0
    k = min(k, max(n - 1, 1))
    rows, cols, vals = [], [], []
    for lo in range(0, n, _SIM_BLOCK):
        hi = min(lo + _SIM_BLOCK, n)
        sim = np.asarray((xt[lo:hi] @ x).toarray(), dtype=np.float32)
        sim /= norms[lo:hi, None] * norms[None, :]
        sim[np.arange(hi - lo), np.arange(lo, hi)] = 0.0
        part = np.argpartition(-sim, k - 1, axis=1)[:, :k]
        v = np.take_along_axis(sim, part, axis=1)
        keep = v > 0
        rows.append(np.repeat(np.arange(lo, hi), k)[keep.ravel()])
        cols.append(part[keep])
        vals.append(v[keep])
    return sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                             shape=(n, n))


def recency_history(interactions: Interactions, half_life: float) -> sparse.csr_matrix:
    """(users, items) with weight 2^(-steps back / half_life) per held item (its latest
    occurrence); half_life 0 gives the binary matrix."""
    if half_life <= 0:
        return interactions.matrix
    starts = interactions.user_starts
    back = starts[interactions.users + 1] - 1 - np.arange(len(interactions))
    w = np.exp2(-back / half_life).astype(np.float32)
    m = sparse.coo_matrix((w, (interactions.users, interactions.items)),
                          shape=(interactions.n_users, interactions.n_items)).tocsr()
    # A repeated item sums; clip so repeats do not outweigh a single recent hold.
    m.data = np.minimum(m.data, 1.0)
    return m


def fit_itemknn(interactions: Interactions, params: ItemKnnParams, seed: int = 0
                ) -> ItemKnnModel:
    """Item-kNN; `seed` unused (deterministic), kept for the shared signature."""
    del seed
    x = interactions.matrix
    return ItemKnnModel(cosine_neighbours(x, params.k), recency_history(interactions,
                                                                        params.half_life),
                        x, params)
