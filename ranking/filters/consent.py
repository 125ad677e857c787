"""Cameo consent: a video showing someone's likeness is servable only while that person's
grant to its creator is live (hard rule 1). Grants come from the control store at the
moment of ranking, never from a copy, so a revocation counts on the very next request."""

from __future__ import annotations

import numpy as np

from ranking.live import live_grants

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
    """One grant lookup for the page: every (person, creator) pair among the candidates'
    cameos, coded as integers so the per-item check is array work."""
    out = np.zeros(len(rows), dtype=bool)
    people = snap.cameo_people
    known = rows < snap.n_base  # the snapshot's items; the rest were added since
    base = np.where(known, rows, 0)
    counts = np.where(known, people.ptr[base + 1] - people.ptr[base], 0)
    sel = np.flatnonzero(counts)
    if len(sel):
        starts, n = people.ptr[rows[sel]], counts[sel]
        offsets = np.repeat(starts - np.cumsum(n) + n, n) + np.arange(int(n.sum()))
        person = people.values[offsets]
        item_of = np.repeat(np.arange(len(sel)), n)
        creator = snap.item_creator[rows[sel]][item_of]
        width = len(snap.user_ids) + 1
        keys = np.where(person >= 0, person * width + creator, -1)
        unique, which = np.unique(keys, return_inverse=True)
        ids = snap.user_id_list
        pairs = [(ids[k // width], ids[k % width]) if k >= 0 else None
                 for k in unique.tolist()]
        needed = {p for p in pairs if p is not None}
        granted = live_grants(live.grants, needed) if needed else set()
        # An unknown person (-1) has granted nothing.
        lacking = np.fromiter((p not in granted for p in pairs), dtype=bool,
                              count=len(pairs))[which]
        blocked = np.zeros(len(sel), dtype=bool)
        np.logical_or.at(blocked, item_of, lacking)
        out[sel] = blocked
    # Generations added since the snapshot carry their cameo lists as ids.
    for n in np.flatnonzero(~known).tolist():
        row = int(rows[n])
        owners = snap.owners_of(row)
        out[n] = bool(owners) and bool(lacking_consent(snap.creator_id_of(row), owners,
                                                       live.grants))
    return out
