"""The LambdaMART ranker's score: one feature matrix per block of users, one predict call
per block (compiled trees where configured). Blocks keep the stacked matrix small: a whole
1,000-user chunk at 1M items was ~900 MB."""

from __future__ import annotations

import numpy as np

from ranking.context import Pool, Scoring, UserQuery

__all__ = ["NAME", "WRITES", "applies", "score"]

NAME = "ranker"
WRITES = ("score",)


def applies(ctx: Scoring, query: UserQuery) -> bool:
    return query.policy.personalized and ctx.mode == "ranker" and ctx.ranker is not None


def score(ctx: Scoring, queries: list[UserQuery], pools: list[Pool],
          _columns: dict[str, list[np.ndarray]]) -> dict[str, list[np.ndarray]]:
    out: list[np.ndarray] = []
    block = int(ctx.settings.score_block_users)
    for start in range(0, len(queries), block):
        part = range(start, min(start + block, len(queries)))
        matrices = [ctx.features.rows(queries[n].row, pools[n].rows, queries[n].vector,
                                      ctx.view) for n in part]
        flat = ctx.predict(np.vstack(matrices))
        bounds = np.cumsum([0, *[len(m) for m in matrices]])
        out += [flat[bounds[k]:bounds[k + 1]] for k in range(len(matrices))]
    return {"score": out}
