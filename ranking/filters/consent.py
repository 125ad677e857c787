"""Cameo consent: a video showing someone's likeness is servable only while that person's
grant to its creator is live (hard rule 1). Grants come from the control store at the
moment of ranking, never from a copy, so a revocation counts on the very next request."""

from __future__ import annotations

import numpy as np

__all__ = ["NAME", "applies", "drop", "lacking_consent"]

NAME = "cameo_consent"


def applies(_policy) -> bool:
    return True


def lacking_consent(creator: object, owners: tuple[object, ...],
                    grants: frozenset[tuple[object, object]]) -> list[object]:
    """The people in a video whose likeness its creator may not use right now."""
    return [o for o in owners if o != creator and (o, creator) not in grants]


def drop(snap, _query, live, rows: np.ndarray) -> np.ndarray:
    out = np.zeros(len(rows), dtype=bool)
    owners = snap.cameo_owners
    creators = snap.item_creator_ids
    for n, row in enumerate(rows.tolist()):
        people = owners.get(row)
        if people and lacking_consent(creators[row], people, live.grants):
            out[n] = True
    return out
