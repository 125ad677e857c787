"""What the user asked for more of ("more skateboarding"): for each 'more' direction, the most
engaged videos of the topic the phrase names, and the nearest videos to where the direction
points in content space (its topic's centroid and the phrase's vector; the content index and
the videos made since the snapshot), so a page can follow the ask even when nothing of it
was among the user's usual candidates ("because you asked for more skateboarding")."""

from __future__ import annotations

import numpy as np

from ranking.context import Candidates, UserQuery
from ranking.controls import targets
from ranking.snapshot.view import View
from ranking.sources.ann import nearest_live
from ranking.sources.session import by_topic
from reelrank.settings import Settings

__all__ = ["FAIL_OPEN", "NAME", "PERSONAL", "propose"]

NAME = "steering"
FAIL_OPEN = True  # the same index as `similar`: degrade to the other sources without it
PERSONAL = True


def propose(snap: View, queries: list[UserQuery], settings: Settings) -> list[Candidates]:
    out = []
    k = int(settings.steering_similar_k)
    for q in queries:
        more = q.controls.of_kind("more")
        if not more:
            out.append(Candidates.empty())
            continue
        found = []
        lists = by_topic(snap)
        for n in more:
            code = snap.topic_code.get(q.controls.directions[n].topic, -1)
            if code in lists:
                rows = lists[code][:k]
                found.append((rows, np.full(len(rows), 1.0)))
        toward = targets(snap, q.controls, more)
        toward = toward[np.linalg.norm(toward, axis=1) > 0]
        if len(toward):
            found += nearest_live(snap, toward, k)
        if not found:
            out.append(Candidates.empty())
            continue
        rows = np.concatenate([r for r, _ in found])
        scores = np.concatenate([s for _, s in found])
        order = np.lexsort((rows, -scores))
        rows, scores = rows[order], scores[order]
        _, first = np.unique(rows, return_index=True)
        first = np.sort(first)
        out.append(Candidates(rows[first], scores[first]))
    return out
