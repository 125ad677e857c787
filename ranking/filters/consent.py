"""Cameo consent: a video showing someone's likeness is servable only while that person's
grant to its creator is live (hard rule 1). Grants come from the control store at the
moment of ranking, never from a copy, so a revocation counts on the very next request."""

from __future__ import annotations

import numpy as np

from ranking.policy import live_grants

__all__ = ["NAME", "applies", "drop", "lacking_consent"]

NAME = "cameo_consent"


def applies(_policy) -> bool:
    return True


def lacking_consent(creator: object, owners: tuple[object, ...], grants) -> list[object]:
    """The people in a video whose likeness its creator may not use right now (`grants`:
    a `LiveState.grants`)."""
    needed = {(o, creator) for o in owners if o != creator}
    granted = live_grants(grants, needed) if needed else set()
    return [o for o in owners if o != creator and (o, creator) not in granted]


def drop(snap, _query, live, rows: np.ndarray) -> np.ndarray:
    owners, creators = snap.cameo_owners, snap.item_creator_ids
    with_cameos = [(n, row) for n, row in enumerate(rows.tolist()) if row in owners]
    needed = {(o, creators[row]) for _n, row in with_cameos for o in owners[row]
              if o != creators[row]}
    granted = live_grants(live.grants, needed) if needed else set()  # one lookup per page
    out = np.zeros(len(rows), dtype=bool)
    for n, row in with_cameos:
        creator = creators[row]
        out[n] = any(o != creator and (o, creator) not in granted for o in owners[row])
    return out
