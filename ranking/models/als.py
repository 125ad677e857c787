"""Implicit-feedback ALS (Hu, Koren, Volinsky 2008) from the `implicit` package, CPU build.

Each user's (and item's) least-squares solve is independent of the others, so the result does
not depend on the thread count: deterministic for a seed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ranking.models._base import bounded
from ranking.models._factors import FactorModel
from ranking.models.interactions import Interactions

__all__ = ["AlsParams", "fit_als"]


@dataclass(frozen=True)
class AlsParams:
    factors: int = 64
    regularization: float = 0.05
    alpha: float = 1.0  # confidence of an observed interaction: 1 + alpha
    iterations: int = 15

    def __post_init__(self) -> None:
        bounded(self, "factors", 1, 1024, integer=True)
        bounded(self, "regularization", 0.0, 1e4)
        bounded(self, "alpha", 1e-3, 1e4)
        bounded(self, "iterations", 1, 200, integer=True)


def fit_als(interactions: Interactions, params: AlsParams, seed: int = 0) -> FactorModel:
    from implicit.cpu.als import AlternatingLeastSquares

    x = interactions.matrix
    model = AlternatingLeastSquares(factors=params.factors, regularization=params.regularization,
                                    alpha=params.alpha, iterations=params.iterations,
                                    random_state=seed, num_threads=0)
    model.fit(x, show_progress=False)
    return FactorModel("als", np.asarray(model.user_factors, dtype=np.float32),
                       np.asarray(model.item_factors, dtype=np.float32), x, asdict(params))
