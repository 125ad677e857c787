"""Content retrieval: nearest items to the user's taste vector in the FAISS item index, and
among the items made since the snapshot (a same-day generation joins retrieval at once)."""

from __future__ import annotations

import numpy as np

from ranking.context import Candidates, UserQuery
from ranking.snapshot.view import View
from reelrank.settings import Settings

__all__ = ["FAIL_OPEN", "NAME", "PERSONAL", "nearest_live", "propose"]

NAME = "similar"
# The index is a separate artifact that can be missing or stale; the feed degrades to the
# other sources rather than failing (the pipeline logs and counts it).
FAIL_OPEN = True
PERSONAL = True


def nearest_live(snap: View, vectors: np.ndarray, k: int
                 ) -> list[tuple[np.ndarray, np.ndarray]]:
    """The best `k` rows for each query vector among the snapshot's indexed items and the
    items made since it (searched exactly: a day's generations are few), best first."""
    found = (snap.nearest(snap.content_index, vectors, k) if snap.content_index is not None
             else [(np.empty(0, dtype=np.int64), np.empty(0)) for _ in vectors])
    if snap.n_items == snap.n_base:
        return found
    extra = np.arange(snap.n_base, snap.n_items)
    extra = extra[snap.take("has_vector", extra)]
    if len(extra) == 0:
        return found
    unit = snap.take("item_vectors", extra) / snap.take("item_norms", extra)[:, None]
    live_scores = vectors @ unit.T
    out = []
    for (rows, scores), mine in zip(found, live_scores, strict=True):
        rows, scores = np.concatenate([rows, extra]), np.concatenate([scores, mine])
        best = np.lexsort((rows, -scores))[:k]
        out.append((rows[best], scores[best].astype(np.float64)))
    return out


def propose(snap: View, queries: list[UserQuery], settings: Settings
            ) -> list[Candidates]:
    out = [Candidates.empty() for _ in queries]
    asking = [n for n, q in enumerate(queries) if q.vector is not None]
    if not asking or (snap.content_index is None and snap.n_items == snap.n_base):
        return out
    vectors = np.stack([queries[n].vector for n in asking])
    found = nearest_live(snap, vectors, int(settings.candidates_per_source))
    for n, (rows, scores) in zip(asking, found, strict=True):
        out[n] = Candidates(rows, scores)
    return out
