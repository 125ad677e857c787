"""A matrix-factorisation model's shape, shared by ALS and BPR: score = u . v."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse

from ranking.models._base import BlockScorer
from ranking.models._io import load_arrays, pack_csr, save_arrays, unpack_csr

__all__ = ["FactorModel"]


@dataclass(frozen=True, eq=False)
class FactorModel(BlockScorer):
    kind: str  # "als" or "bpr"; an instance field here, since two fitters share the class
    user_factors: np.ndarray  # float32 (users, d)
    item_factors: np.ndarray  # float32 (items, d)
    seen: sparse.csr_matrix
    params: dict

    def score_block(self, users: np.ndarray) -> np.ndarray:
        return self.user_factors[users] @ self.item_factors.T

    def save(self, directory: Path) -> Path:
        return save_arrays(directory, self.kind, {
            "user_factors": self.user_factors, "item_factors": self.item_factors,
            **pack_csr("seen", self.seen)}, self.params)

    @classmethod
    def load(cls, directory: Path, kind: str) -> FactorModel:
        arrays, meta = load_arrays(directory, kind)
        return cls(kind, arrays["user_factors"], arrays["item_factors"],
                   unpack_csr("seen", arrays), meta)
