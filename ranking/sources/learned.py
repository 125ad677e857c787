"""The learned stage's candidates: each user's best items as the nightly `ranking.learned`
pipeline chose and ranked them (tuned on the log's own validation carve), read from the
snapshot's lists. Scores are the list positions as DCG discounts (`rank_score`)."""

from __future__ import annotations

from ranking.context import Candidates, UserQuery
from ranking.snapshot.view import View
from reelrank.settings import Settings

__all__ = ["FAIL_OPEN", "NAME", "PERSONAL", "propose"]

NAME = "learned"
FAIL_OPEN = True  # a separate nightly artifact: degrade to the other sources without it
PERSONAL = True


def propose(snap: View, queries: list[UserQuery], settings: Settings) -> list[Candidates]:
    lists = snap.learned
    out = []
    for q in queries:
        if q.row < 0 or q.row not in lists:
            out.append(Candidates.empty())
            continue
        rows, scores = lists[q.row]
        out.append(Candidates(rows, scores.astype("float64")))
    return out
