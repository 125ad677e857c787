"""Order by the collaborative models, the scorer for choice-only logs (`scorer=collaborative`,
or `auto` on a log that records choices but not what was shown and passed over).

The learned stage's list comes first, in its order (its scores are DCG discounts in (0, 1],
shifted above 1); then what EASE scores (x_u B, mapped by its rank among the rest into
(0, 1)); candidates neither model knows (new items) sort last, by popularity."""

from __future__ import annotations

import numpy as np

from ranking.context import Pool, Scoring, UserQuery

__all__ = ["NAME", "WRITES", "applies", "score"]

NAME = "collaborative"
WRITES = ("score",)
_UNKNOWN = 1e6  # pushes an item no model knows below every item one does


def applies(ctx: Scoring, query: UserQuery) -> bool:
    return query.policy.personalized and ctx.mode == "collaborative"


def score(ctx: Scoring, queries: list[UserQuery], pools: list[Pool],
          columns: dict[str, list[np.ndarray]]) -> dict[str, list[np.ndarray]]:
    out = []
    for q, pool, popularity in zip(queries, pools, columns["popularity"], strict=True):
        collab = ctx.view.collaborative_scores(q.row, pool.rows)
        scores = np.where(np.isnan(collab), popularity - _UNKNOWN, collab)
        lists = ctx.view.learned
        if q.row >= 0 and q.row in lists:
            scores = _learned_first(pool.rows, scores, *lists[q.row])
        out.append(scores)
    return {"score": out}


def _learned_first(rows: np.ndarray, scores: np.ndarray, listed: np.ndarray,
                   listed_scores: np.ndarray) -> np.ndarray:
    """`scores` re-based so every item of the learned list outranks every other, in the
    list's order; the others keep their order among themselves, inside (0, 1)."""
    order = np.argsort(listed, kind="stable")
    at = np.searchsorted(listed[order], rows)
    at = np.clip(at, 0, max(len(listed) - 1, 0))
    hit = (listed[order][at] == rows) if len(listed) else np.zeros(len(rows), bool)
    out = np.empty(len(rows))
    out[hit] = 1.0 + listed_scores[order][at[hit]]
    rest = np.flatnonzero(~hit)
    if len(rest):
        ranks = np.empty(len(rest))
        ranks[np.argsort(-scores[rest], kind="stable")] = np.arange(len(rest))
        out[rest] = 1.0 - (ranks + 1) / (len(rest) + 1)
    return out
