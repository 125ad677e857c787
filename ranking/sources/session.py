"""More like what the user just liked: the nearest items (content index, and the items made
since the snapshot) to each of the few things they liked, completed or shared since the
snapshot, and the most popular items of their topics, so the very next page follows a like
("because you liked X just now")."""

from __future__ import annotations

import numpy as np

from ranking.context import Candidates, UserQuery
from ranking.snapshot.view import View
from ranking.sources.ann import nearest_live
from reelrank.settings import Settings

__all__ = ["FAIL_OPEN", "NAME", "PERSONAL", "by_topic", "propose"]

NAME = "session"
FAIL_OPEN = True  # the same index as `similar`: degrade to the other sources without it
PERSONAL = True


def by_topic(snap: View) -> dict[int, np.ndarray]:
    """Topic code -> the snapshot's rows of that topic, most decayed engagement first."""
    lists = snap.memo.get(("by_topic",))
    if lists is None:
        decayed = np.nan_to_num(
            snap.item_block[:, snap.item_block_cols.index("item_engagement_decayed")])
        rows = np.flatnonzero(snap.item_topic >= 0)
        rows = rows[np.lexsort((rows, -decayed[rows]))]
        topic = snap.item_topic[rows]
        lists = {int(t): rows[topic == t] for t in np.unique(topic)}
        snap.memo[("by_topic",)] = lists
    return lists


def propose(snap: View, queries: list[UserQuery], settings: Settings) -> list[Candidates]:
    out = []
    k = int(settings.session_similar_k)
    for q in queries:
        liked = np.array([r for r, _w in q.session.liked[: settings.session_liked_max]],
                         dtype=np.int64)
        if len(liked) == 0:
            out.append(Candidates.empty())
            continue
        topics = [int(t) for t in np.unique(snap.take("item_topic", liked)) if t >= 0]
        lists = by_topic(snap)
        found = [(lists[t][:k], np.full(min(k, len(lists[t])), 1.0)) for t in topics
                 if t in lists]
        rows = liked[snap.take("has_vector", liked)]
        if len(rows):
            vectors = snap.take("item_vectors", rows)
            vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
            found += nearest_live(snap, vectors, k)
        if not found:
            out.append(Candidates.empty())
            continue
        rows = liked
        merged = np.concatenate([r for r, _ in found])
        scores = np.concatenate([s for _, s in found])
        keep = ~np.isin(merged, rows)
        merged, scores = merged[keep], scores[keep]
        order = np.lexsort((merged, -scores))
        merged, scores = merged[order], scores[order]
        _, first = np.unique(merged, return_index=True)
        first = np.sort(first)
        out.append(Candidates(merged[first], scores[first]))
    return out
