"""Local co-occurrence kNN: items are similar when the same users took them close together in
time, within `window` steps of each other in their histories, rather than anywhere in them
(session-based kNN in the spirit of Ludewig & Jannach 2018). Counts are normalised like a
cosine, C_ij / sqrt(n_i n_j); a user's score for j sums C_ij over their items i, weighted by
recency with `half_life` (in items). Only meaningful where order carries signal.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse

from ranking.models._base import BlockScorer, bounded
from ranking.models._io import load_arrays, pack_csr, save_arrays, unpack_csr
from ranking.models.interactions import Interactions
from ranking.models.itemknn import recency_history

__all__ = ["CoocModel", "CoocParams", "fit_cooc"]


@dataclass(frozen=True)
class CoocParams:
    window: int = 20
    half_life: float = 3.0
    k: int = 200  # neighbours kept per item, bounding memory on large catalogs

    def __post_init__(self) -> None:
        bounded(self, "window", 1, 1000, integer=True)
        bounded(self, "half_life", 0.0, 1e6)
        bounded(self, "k", 1, 5000, integer=True)


@dataclass(frozen=True, eq=False)
class CoocModel(BlockScorer):
    similarity: sparse.csr_matrix  # (items, items), symmetric before the top-k cut
    history: sparse.csr_matrix
    seen: sparse.csr_matrix
    params: CoocParams
    kind = "cooc"

    def score_block(self, users: np.ndarray) -> np.ndarray:
        return np.asarray((self.history[users] @ self.similarity).toarray(), dtype=np.float32)

    def save(self, directory: Path) -> Path:
        p = self.params
        return save_arrays(directory, self.kind, {
            **pack_csr("similarity", self.similarity), **pack_csr("history", self.history),
            **pack_csr("seen", self.seen)},
            {"window": p.window, "half_life": p.half_life, "k": p.k})

    @classmethod
    def load(cls, directory: Path) -> CoocModel:
        a, meta = load_arrays(directory, cls.kind)
        return cls(unpack_csr("similarity", a), unpack_csr("history", a), unpack_csr("seen", a),
                   CoocParams(**meta))


def _keep_top(m: sparse.csr_matrix, k: int) -> sparse.csr_matrix:
    """Each row's k largest entries."""
    m = m.tocsr()
    m.sort_indices()
    rows, cols, vals = [], [], []
    for r in range(m.shape[0]):
        s, e = m.indptr[r], m.indptr[r + 1]
        if e - s > k:
            pick = s + np.argpartition(-m.data[s:e], k - 1)[:k]
        else:
            pick = np.arange(s, e)
        rows.append(np.full(len(pick), r))
        cols.append(m.indices[pick])
        vals.append(m.data[pick])
    return sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                             shape=m.shape)


def fit_cooc(log: Interactions, params: CoocParams, seed: int = 0) -> CoocModel:
    """`seed` unused (deterministic), kept for the shared signature."""
    del seed
    n = log.n_items
    counts = sparse.csr_matrix((n, n), dtype=np.float32)
    for d in range(1, params.window + 1):  # one offset at a time bounds memory
        ok = log.users[d:] == log.users[:-d]
        a, b = log.items[:-d][ok], log.items[d:][ok]
        step = sparse.csr_matrix((np.ones(len(a), np.float32), (a, b)), shape=(n, n))
        counts = counts + step + step.T
    counts.setdiag(0)
    counts.eliminate_zeros()
    pop = np.asarray(log.matrix.sum(axis=0)).ravel().astype(np.float32) + 1.0
    scale = sparse.diags(1.0 / np.sqrt(pop))
    sim = _keep_top(scale @ counts @ scale, params.k)
    # Row i holds i's neighbours; scores go history @ S, so column j must hold j's: transpose.
    return CoocModel(sim.T.tocsr(), recency_history(log, params.half_life), log.matrix, params)
