"""Bayesian Personalized Ranking (Rendle et al. 2009) from the `implicit` package, CPU build.

implicit's BPR is lock-free parallel SGD, whose result depends on thread timing; it runs on one
thread here so a seed gives one model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ranking.models._base import bounded
from ranking.models._factors import FactorModel
from ranking.models.interactions import Interactions

__all__ = ["BprParams", "fit_bpr"]


@dataclass(frozen=True)
class BprParams:
    factors: int = 64
    learning_rate: float = 0.01
    regularization: float = 0.01
    iterations: int = 100

    def __post_init__(self) -> None:
        bounded(self, "factors", 1, 1024, integer=True)
        bounded(self, "learning_rate", 1e-5, 1.0)
        bounded(self, "regularization", 0.0, 10.0)
        bounded(self, "iterations", 1, 1000, integer=True)


def fit_bpr(interactions: Interactions, params: BprParams, seed: int = 0) -> FactorModel:
    from implicit.cpu.bpr import BayesianPersonalizedRanking

    x = interactions.matrix
    model = BayesianPersonalizedRanking(
        factors=params.factors, learning_rate=params.learning_rate,
        regularization=params.regularization, iterations=params.iterations,
        num_threads=1, random_state=seed)
    model.fit(x, show_progress=False)
    return FactorModel("bpr", np.asarray(model.user_factors, dtype=np.float32),
                       np.asarray(model.item_factors, dtype=np.float32), x, asdict(params))
