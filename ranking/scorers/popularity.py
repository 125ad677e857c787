"""Item popularity: log(1 + decayed engagement), for every candidate. The unpersonalized
order, the tie-breaker for items a collaborative model does not know, and the fallback's
prior all read this column."""

from __future__ import annotations

import numpy as np

from ranking.context import Pool, Scoring, UserQuery

__all__ = ["NAME", "WRITES", "applies", "log_popularity", "score"]

NAME = "popularity"
WRITES = ("popularity",)


def log_popularity(decayed: np.ndarray) -> np.ndarray:
    return np.log1p(np.clip(np.nan_to_num(decayed), 0, None))


def applies(_ctx: Scoring, _query: UserQuery) -> bool:
    return True


def score(ctx: Scoring, queries: list[UserQuery], pools: list[Pool],
          _columns: dict[str, list[np.ndarray]]) -> dict[str, list[np.ndarray]]:
    return {"popularity": [log_popularity(ctx.popularity.rows(-1, p.rows, None, ctx.view)[:, 0])
                           for p in pools]}
