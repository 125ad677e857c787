"""What the user just did, on the scores: candidates like what they just liked rise (by up to
`session_boost` of the page's score range: fully for the topic of a liked item, else in
proportion to their cosine similarity to the nearest liked item), and topics they just turned away from (an item marked not interested,
or a run of skips) sink below every other candidate, returning only when nothing else is
left. Runs after the scorer that wrote `score`."""

from __future__ import annotations

import numpy as np

from ranking.context import Pool, Scoring, UserQuery

__all__ = ["NAME", "WRITES", "applies", "score"]

NAME = "session"
WRITES = ("score",)


def applies(_ctx: Scoring, query: UserQuery) -> bool:
    session = query.session
    return query.policy.personalized and bool(session.liked or len(session.muted_topics))


def _likeness(ctx: Scoring, q: UserQuery, rows: np.ndarray) -> np.ndarray:
    """1 for a candidate of a topic liked this session, else its cosine similarity to the
    nearest liked item (>= 0)."""
    view = ctx.view
    liked = np.array([r for r, _w in q.session.liked], dtype=np.int64)
    if len(liked) == 0:
        return np.zeros(len(rows))
    topics = view.take("item_topic", liked)
    same = np.isin(view.take("item_topic", rows), topics[topics >= 0])
    liked = liked[view.take("has_vector", liked)]
    if len(liked) == 0:
        return same.astype(np.float64)
    anchors = view.take("item_vectors", liked) / view.take("item_norms", liked)[:, None]
    vectors = view.take("item_vectors", rows)
    norms = np.nan_to_num(view.take("item_norms", rows), nan=1.0)
    similar = np.clip((vectors @ anchors.T).max(axis=1) / norms, 0.0, 1.0)
    return np.where(same, 1.0, similar)


def score(ctx: Scoring, queries: list[UserQuery], pools: list[Pool],
          columns: dict[str, list[np.ndarray]]) -> dict[str, list[np.ndarray]]:
    out = []
    boost = float(ctx.settings.session_boost)
    for q, pool, scores in zip(queries, pools, columns["score"], strict=True):
        span = float(scores.max() - scores.min()) if len(scores) else 0.0
        span = span or 1.0
        moved = scores + boost * span * _likeness(ctx, q, pool.rows)
        if len(q.session.muted_topics):
            muted = np.isin(ctx.view.take("item_topic", pool.rows), q.session.muted_topics)
            moved = np.where(muted, moved - (1 + boost) * span - 1.0, moved)
        out.append(moved)
    return {"score": out}
