"""The user's own asks, on the scores (after the scorer that wrote `score`, by shares of the
page's score range so they mean the same whatever the scorer):

- "more X": candidates like X rise by `steering_more_boost` x the direction's weight x their
  likeness to X (1 for X's topic, else cosine; the strongest 'more' counts);
- "less X": candidates like X sink the same way by `steering_less_demote`;
- "see fewer like this": candidates of that item's topic sink by `see_fewer_demote`, and
  so do its creator's (both, for a video of both).
"""

from __future__ import annotations

import numpy as np

from ranking.context import Pool, Scoring, UserQuery
from ranking.controls import likeness, topic_codes

__all__ = ["NAME", "WRITES", "applies", "score"]

NAME = "steering"
WRITES = ("score",)


def applies(_ctx: Scoring, query: UserQuery) -> bool:
    return query.policy.personalized and query.controls.reshapes


def _pull(ctx: Scoring, q: UserQuery, kind: str, rows: np.ndarray) -> np.ndarray:
    """The strongest weighted likeness of each row to the directions of `kind` (0: none)."""
    which = q.controls.of_kind(kind)
    if not which:
        return np.zeros(len(rows))
    weights = np.array([q.controls.directions[n].weight for n in which])[:, None]
    return (weights * likeness(ctx.view, q.controls, which, rows)).max(axis=0)


def score(ctx: Scoring, queries: list[UserQuery], pools: list[Pool],
          columns: dict[str, list[np.ndarray]]) -> dict[str, list[np.ndarray]]:
    s = ctx.settings
    out = []
    for q, pool, scores in zip(queries, pools, columns["score"], strict=True):
        span = float(scores.max() - scores.min()) if len(scores) else 0.0
        span = span or 1.0
        rows = pool.rows
        moved = (scores + s.steering_more_boost * span * _pull(ctx, q, "more", rows)
                 - s.steering_less_demote * span * _pull(ctx, q, "less", rows))
        controls = q.controls
        if controls.fewer_topics:
            fewer = np.isin(ctx.view.take("item_topic", rows),
                            topic_codes(ctx.view, controls.fewer_topics))
            moved = moved - s.see_fewer_demote * span * fewer
        if controls.fewer_creators:
            codes = np.array([ctx.view.user_row.get(c, -2) for c in controls.fewer_creators],
                             dtype=np.int64)
            fewer = np.isin(ctx.view.take("item_creator", rows), codes)
            moved = moved - s.see_fewer_demote * span * fewer
        out.append(moved)
    return {"score": out}
