"""EASE (Steck, WWW 2019): closed-form item-item weights B = I - P diag(1/diag(P)),
P = (X^T X + lambda I)^-1, zero diagonal; a user's scores are x_u B. With `half_life` > 0 the
user's row is weighted by recency, 2^(-steps back / half_life), before it meets B (the weights
are learnt on the binary matrix either way): an order-aware variant for logs with order.

Float32 throughout, the inverse by Cholesky in place (LAPACK potrf/potri). Memory model,
measured by `bench/quality_compare.py --scale` (tracemalloc peak of `fit_ease` at 1,000, 2,000
and 4,000 items): 13.0 bytes per items^2, i.e. ~3.3 float32 items x items matrices alive at
once (the Gram matrix inverted in place, the triangle copies that symmetrise it, the weights).
So 8 GB holds 25,600 items; `MAX_ITEMS` = 20,000 (5.2 GB peak) leaves the rest of the nightly
pipeline ~3 GB. Larger catalogs skip EASE and keep the other sources.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse
from scipy.linalg import lapack

from ranking.models._base import BlockScorer, bounded
from ranking.models._io import load_arrays, pack_csr, save_arrays, unpack_csr
from ranking.models.interactions import Interactions
from ranking.models.itemknn import recency_history

__all__ = ["MAX_ITEMS", "EaseModel", "EaseParams", "fit_ease"]

MAX_ITEMS = 20_000


@dataclass(frozen=True)
class EaseParams:
    """`lam_scale`: lambda as a multiple of the mean diagonal of X^T X (the mean item count),
    so one grid fits logs of any density."""

    lam_scale: float = 1.0
    half_life: float = 0.0  # in items; 0 = every held item counts 1

    def __post_init__(self) -> None:
        bounded(self, "lam_scale", 1e-4, 1e3)
        bounded(self, "half_life", 0.0, 1e6)


@dataclass(frozen=True, eq=False)
class EaseModel(BlockScorer):
    weights: np.ndarray  # float32 (items, items)
    history: sparse.csr_matrix  # (users, items): what a user's row holds, maybe recency-weighted
    seen: sparse.csr_matrix
    params: EaseParams
    kind = "ease"

    def score_block(self, users: np.ndarray) -> np.ndarray:
        return np.asarray(self.history[users] @ self.weights, dtype=np.float32)

    def with_half_life(self, log: Interactions, half_life: float) -> EaseModel:
        """The same weights reading `log` recency-weighted (no refit: B does not change)."""
        return EaseModel(self.weights, recency_history(log, half_life), self.seen,
                         EaseParams(self.params.lam_scale, half_life))

    def save(self, directory: Path) -> Path:
        return save_arrays(directory, self.kind, {
            "weights": self.weights, **pack_csr("history", self.history),
            **pack_csr("seen", self.seen)},
            {"lam_scale": self.params.lam_scale, "half_life": self.params.half_life})

    @classmethod
    def load(cls, directory: Path) -> EaseModel:
        arrays, meta = load_arrays(directory, cls.kind)
        return cls(arrays["weights"], unpack_csr("history", arrays), unpack_csr("seen", arrays),
                   EaseParams(**meta))


def ease_weights(gram: np.ndarray, lam: float) -> np.ndarray:
    """B from a float32 Gram matrix (consumed: inverted in place)."""
    gram[np.diag_indices_from(gram)] += np.float32(lam)
    chol, info = lapack.spotrf(gram, lower=True, overwrite_a=True, clean=False)
    if info != 0:
        raise ValueError(f"X^T X + {lam:g} I is not positive definite (potrf info {info})")
    inv, info = lapack.spotri(chol, lower=True, overwrite_c=True)
    if info != 0:
        raise ValueError(f"inverse failed (potri info {info})")
    inv = np.tril(inv) + np.tril(inv, -1).T  # potri fills the lower triangle only
    diag = np.diag(inv).copy()
    inv /= -diag[None, :]
    np.fill_diagonal(inv, 0.0)
    return inv


def fit_ease(interactions: Interactions, params: EaseParams, seed: int = 0) -> EaseModel:
    """EASE on the binary matrix; `seed` is unused (closed form) and kept for the signature."""
    del seed
    if interactions.n_items > MAX_ITEMS:
        raise ValueError(f"EASE is bounded to {MAX_ITEMS} items (memory), got "
                         f"{interactions.n_items}")
    x = interactions.matrix
    gram = np.asarray((x.T @ x).toarray(), dtype=np.float32)
    lam = params.lam_scale * max(float(np.mean(np.diag(gram))), 1.0)
    return EaseModel(ease_weights(gram, lam), recency_history(interactions, params.half_life), x,
                     params)
