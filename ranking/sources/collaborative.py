"""Collaborative retrieval: EASE's item-item scores where the catalog is small enough for
it, else the items whose factorised vectors are nearest the user's (through FAISS)."""

from __future__ import annotations

import numpy as np

from ranking.context import Candidates, UserQuery
from ranking.snapshot.view import View
from reelrank.settings import Settings

__all__ = ["FAIL_OPEN", "NAME", "PERSONAL", "propose"]

NAME = "collaborative"
FAIL_OPEN = True  # a separate nightly artifact: degrade to the other sources without it
PERSONAL = True


def propose(snap: View, queries: list[UserQuery], settings: Settings
            ) -> list[Candidates]:
    if snap.ease is not None:
        return [_ease(snap, q, int(settings.candidates_per_source)) for q in queries]
    out = [Candidates.empty() for _ in queries]
    asking = [n for n, q in enumerate(queries) if q.row in snap.collab_users]
    if snap.collab_index is None or not asking:
        return out
    vectors = np.stack([snap.collab_users[queries[n].row] for n in asking])
    found = snap.nearest(snap.collab_index, vectors, int(settings.candidates_per_source))
    for n, (rows, scores) in zip(asking, found, strict=True):
        out[n] = Candidates(rows, scores)
    return out


def _ease(snap: View, q: UserQuery, k: int) -> Candidates:
    """EASE's best `k` items for the user, among those not watched yet."""
    weights, to_weight, weight_rows = snap.ease
    seen_rows = snap.seen.values[snap.seen.of(q.row)] if q.row >= 0 else np.empty(0, int)
    seen = to_weight[seen_rows]
    seen = seen[seen >= 0]
    if len(seen) == 0:
        return Candidates.empty()
    scores = weights[seen].sum(axis=0)
    scores[seen] = -np.inf
    scores[weight_rows < 0] = -np.inf  # items the snapshot does not hold
    k = min(k, int(np.isfinite(scores).sum()))
    if k == 0:
        return Candidates.empty()
    best = np.argpartition(-scores, k - 1)[:k]
    best = best[np.lexsort((weight_rows[best], -scores[best]))]
    return Candidates(weight_rows[best], scores[best].astype(np.float64))
