"""Content retrieval: nearest items to the user's taste vector in the FAISS item index."""

from __future__ import annotations

import numpy as np

from ranking.context import Candidates, UserQuery
from ranking.snapshot.view import View
from reelrank.settings import Settings

__all__ = ["FAIL_OPEN", "NAME", "PERSONAL", "propose"]

NAME = "similar"
# The index is a separate artifact that can be missing or stale; the feed degrades to the
# other sources rather than failing (the pipeline logs and counts it).
FAIL_OPEN = True
PERSONAL = True


def propose(snap: View, queries: list[UserQuery], settings: Settings
            ) -> list[Candidates]:
    out = [Candidates.empty() for _ in queries]
    asking = [n for n, q in enumerate(queries) if q.vector is not None]
    if snap.content_index is None or not asking:
        return out
    vectors = np.stack([queries[n].vector for n in asking])
    found = snap.nearest(snap.content_index, vectors, int(settings.candidates_per_source))
    for n, (rows, scores) in zip(asking, found, strict=True):
        out[n] = Candidates(rows, scores)
    return out
