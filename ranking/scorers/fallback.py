"""Before the first ranker is trained (a young deployment): popularity plus the content
similarity of the item to the user's taste vector."""

from __future__ import annotations

import numpy as np

from ranking.context import Pool, Scoring, UserQuery

__all__ = ["NAME", "WRITES", "applies", "score"]

NAME = "fallback"
WRITES = ("score",)


def applies(ctx: Scoring, query: UserQuery) -> bool:
    return query.policy.personalized and ctx.mode == "ranker" and ctx.ranker is None


def score(ctx: Scoring, queries: list[UserQuery], pools: list[Pool],
          columns: dict[str, list[np.ndarray]]) -> dict[str, list[np.ndarray]]:
    out = []
    for q, pool, popularity in zip(queries, pools, columns["popularity"], strict=True):
        similarity = ctx.similarity.rows(q.row, pool.rows, q.vector, ctx.view)[:, 0]
        out.append(popularity + np.nan_to_num(similarity))
    return {"score": out}
