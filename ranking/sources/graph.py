"""Recent videos from the people a user follows and from their friends."""

from __future__ import annotations

import numpy as np

from ranking.context import Candidates, UserQuery
from ranking.snapshot.view import View
from reelrank.settings import Settings

__all__ = ["FAIL_OPEN", "NAME", "PERSONAL", "authored", "propose"]

NAME = "graph"
FAIL_OPEN = False  # snapshot arrays: a failure here is a real fault
PERSONAL = True


def authored(snap: View, row: int) -> np.ndarray:
    """Rows of every video by the people of user `row` (whom they follow, and their
    friends), the snapshot's and any made since (same-day reach); each video once."""
    if row < 0:
        return np.empty(0, dtype=np.int64)
    authors = np.unique(snap.people.values[snap.people.of(row)]).tolist()
    parts = [part for a in authors
             for part in (snap.by_creator.rows[snap.by_creator.of(a)],
                          np.array(snap.live_by_creator.get(a, ()), dtype=np.int64))]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)


def propose(snap: View, queries: list[UserQuery], settings: Settings
            ) -> list[Candidates]:
    """Newest first; the score is recency (1 for just now, toward 0 at the window's edge)."""
    window_s = int(settings.graph_recent_days) * 86_400.0
    now = snap.as_of_s
    k = int(settings.candidates_per_source)
    out = []
    for q in queries:
        rows = authored(snap, q.row)
        if len(rows) == 0:
            out.append(Candidates.empty())
            continue
        age = now - snap.take("item_created_s", rows)
        rows, age = rows[age <= window_s], age[age <= window_s]
        order = np.lexsort((rows, age))[:k]
        out.append(Candidates(rows[order], 1.0 - age[order] / window_s))
    return out
