"""Recent videos from the people a user follows and from their friends."""

from __future__ import annotations

import numpy as np

from ranking.context import Candidates, UserQuery
from ranking.snapshot.view import View
from reelrank.settings import Settings

__all__ = ["FAIL_OPEN", "NAME", "PERSONAL", "propose"]

NAME = "graph"
FAIL_OPEN = False  # snapshot arrays: a failure here is a real fault
PERSONAL = True


def propose(snap: View, queries: list[UserQuery], settings: Settings
            ) -> list[Candidates]:
    """Newest first; the score is recency (1 for just now, toward 0 at the window's edge)."""
    window_s = int(settings.graph_recent_days) * 86_400.0
    now = snap.as_of_s
    k = int(settings.candidates_per_source)
    out = []
    for q in queries:
        authors = snap.people.values[snap.people.of(q.row)]
        if len(authors) == 0:
            out.append(Candidates.empty())
            continue
        # Each author's videos in the snapshot, plus any made since (same-day reach).
        rows = np.concatenate([
            part for a in np.unique(authors).tolist()
            for part in (snap.by_creator.rows[snap.by_creator.of(a)],
                         np.array(snap.live_by_creator.get(a, ()), dtype=np.int64))])
        age = now - snap.take("item_created_s", rows)
        rows, age = rows[age <= window_s], age[age <= window_s]
        order = np.lexsort((rows, age))[:k]
        out.append(Candidates(rows[order], 1.0 - age[order] / window_s))
    return out
