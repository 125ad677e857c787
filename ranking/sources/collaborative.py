"""Collaborative retrieval: items whose co-engagement vectors are nearest the user's."""

from __future__ import annotations

import numpy as np

from ranking.context import Candidates, UserQuery
from ranking.serving.snapshot import ServingSnapshot
from reelrank.settings import Settings

__all__ = ["FAIL_OPEN", "NAME", "PERSONAL", "propose"]

NAME = "collaborative"
FAIL_OPEN = True  # a separate nightly artifact: degrade to the other sources without it
PERSONAL = True


def propose(snap: ServingSnapshot, queries: list[UserQuery], settings: Settings
            ) -> list[Candidates]:
    out = [Candidates.empty() for _ in queries]
    asking = [n for n, q in enumerate(queries) if q.row in snap.collab_users]
    if snap.collab_index is None or not asking:
        return out
    index, to_row = snap.collab_index
    vectors = np.stack([snap.collab_users[queries[n].row] for n in asking])
    labels, scores = index.search_positions(vectors, int(settings.candidates_per_source))
    for n, row_labels, row_scores in zip(asking, labels, scores, strict=True):
        ok = row_labels >= 0
        rows = to_row[row_labels[ok]]
        keep = rows >= 0
        out[n] = Candidates(rows[keep], row_scores[ok][keep].astype(np.float64))
    return out
