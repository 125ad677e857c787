"""What is popular near the user: the regional popularity lists, by home region.

Users whose region is unknown, or too quiet to have a list (every user, in a log without
IPs), get the global list: the items with the most decayed engagement lately. A user whose
personalization is off gets the list of the country they declared, never a region
inferred from their own activity."""

from __future__ import annotations

from ranking.context import Candidates, UserQuery
from ranking.snapshot.view import View
from reelrank.settings import Settings

__all__ = ["FAIL_OPEN", "NAME", "PERSONAL", "propose"]

NAME = "trending"
FAIL_OPEN = False
PERSONAL = False


def propose(snap: View, queries: list[UserQuery], settings: Settings
            ) -> list[Candidates]:
    k = int(settings.candidates_per_source)
    out = []
    for q in queries:
        if q.policy.personalized:
            region = int(snap.user_region[q.row]) if q.row >= 0 else -1
            rows, scores = snap.regional.get(region, snap.global_top)
        else:
            country = snap.user_country[q.row] if q.row >= 0 else ""
            rows, scores = snap.country_popular.get(country, snap.global_top)
        out.append(Candidates(rows[:k], scores[:k]))
    return out
