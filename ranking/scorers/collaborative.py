"""Order by the collaborative model's score (EASE's x_u B), the scorer for choice-only logs
(`scorer=collaborative`, or `auto` on a log that records choices but not what was shown and
passed over). Candidates the model has no score for (new items) sort after those it has, by
popularity."""

from __future__ import annotations

import numpy as np

from ranking.context import Pool, Scoring, UserQuery

__all__ = ["NAME", "WRITES", "applies", "score"]

NAME = "collaborative"
WRITES = ("score",)
_UNKNOWN = 1e6  # pushes an item the model does not know below every item it does


def applies(ctx: Scoring, query: UserQuery) -> bool:
    return query.policy.personalized and ctx.mode == "collaborative"


def score(ctx: Scoring, queries: list[UserQuery], pools: list[Pool],
          columns: dict[str, list[np.ndarray]]) -> dict[str, list[np.ndarray]]:
    out = []
    for q, pool, popularity in zip(queries, pools, columns["popularity"], strict=True):
        collab = ctx.view.collaborative_scores(q.row, pool.rows)
        out.append(np.where(np.isnan(collab), popularity - _UNKNOWN, collab))
    return {"score": out}
