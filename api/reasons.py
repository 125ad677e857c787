"""Why an item is on a page, in a few words for the viewer: from the sources that proposed it,
most personal first: who made it, then what you asked for, then what you just did, then
what you watched."""

from __future__ import annotations

import numpy as np

from ranking.controls import likeness
from ranking.engine import Engine
from ranking.snapshot.view import View

__all__ = ["REASONS", "reason_for", "reasons_for"]

REASONS = {
    "graph": "from people you follow",
    "trending": "popular near you",
    "fresh": "new today",
    "collaborative": "liked by people with similar taste",
    "learned": "picked from what you watched and what people like you watched next",
    "catalog": "popular on the app",
    "served before": "shown to you before",
}


def reason_for(view: View | Engine, query, item_id: object, source: str,
               watched: np.ndarray | None = None) -> str:
    """A short why: the first of the sources that proposed the item, in order of how
    personal an explanation it gives. `view`: what the page was ranked on (an engine
    means its snapshot). `watched`: the vectors of what the user watched, when the caller
    gathered them once for a page (`reasons_for`)."""
    names = source.split(",")
    if "graph" in names:
        # A friend's clip is best explained by the friendship, whatever else found it.
        return REASONS["graph"]
    asked = _asked_for(view, query, item_id, "steering" in names)
    if asked is not None:
        return f"because you asked for more {asked}"
    if "session" in names and query.session.liked and query.policy.personalized:
        snap = view.snap if isinstance(view, Engine) else view
        liked = np.array([r for r, _w in query.session.liked], dtype=np.int64)
        row = snap.row_of(item_id)
        liked = liked[snap.take("has_vector", liked)]
        if row >= 0 and len(liked):
            vector = snap.take("item_vectors", np.array([row]))[0]
            closest = liked[int(np.argmax(snap.take("item_vectors", liked) @ vector))]
            return f"because you liked {snap.item_ids_of([closest])[0]} just now"
    if "similar" in names and query.row >= 0 and query.policy.personalized:
        snap = view.snap if isinstance(view, Engine) else view
        seen = snap.seen.values[snap.seen.of(query.row)]
        row = snap.row_of(item_id)
        if len(seen) and row >= 0 and snap.take("has_vector", np.array([row]))[0]:
            vector = snap.take("item_vectors", np.array([row]))[0]
            if watched is None:
                watched = snap.item_vectors[seen]
            closest = seen[int(np.argmax(watched @ vector))]
            return f"because you watched {snap.item_id_list[int(closest)]}"
    for name in ("graph", "learned", "collaborative", "trending", "fresh", "catalog", "served before"):
        if name in names:
            return REASONS[name]
    return "recommended for you"


def reasons_for(view: View | Engine, query, item_ids: list[object], sources: list[str]
                ) -> list[str]:
    """`reason_for` of each item of one page (what the user watched gathered once)."""
    watched = None
    if query.row >= 0 and query.policy.personalized \
            and any("similar" in source.split(",") for source in sources):
        snap = view.snap if isinstance(view, Engine) else view
        watched = snap.item_vectors[snap.seen.values[snap.seen.of(query.row)]]
    return [reason_for(view, query, item, source, watched)
            for item, source in zip(item_ids, sources, strict=True)]


def _asked_for(view: View | Engine, query, item_id: object, proposed: bool) -> str | None:
    """The 'more' phrase of the user's steering the item answers: the one it is most alike
    to, when the steering source proposed it or it is of the topic the phrase names (the
    scorer raised it fully for that); else None."""
    more = query.controls.of_kind("more")
    if not more:
        return None
    snap = view.snap if isinstance(view, Engine) else view
    row = snap.row_of(item_id)
    if row < 0:
        return None
    alike = likeness(snap, query.controls, more, np.array([row]))[:, 0]
    best = int(np.argmax(alike))
    if proposed or alike[best] >= 1.0:
        return query.controls.directions[more[best]].phrase
    return None
