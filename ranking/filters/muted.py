"""Drop videos by creators the user marked "not interested" in (one of their videos) within
the last `not_interested_hours`: a person who says so should not see that creator again on
the next pages."""

from __future__ import annotations

import numpy as np

__all__ = ["NAME", "applies", "drop"]

NAME = "not_interested_creator"


def applies(policy) -> bool:
    return policy.personalized


def drop(snap, query, _live, rows: np.ndarray) -> np.ndarray:
    muted = query.session.muted_creators
    if not len(muted):
        return np.zeros(len(rows), dtype=bool)
    return np.isin(snap.take("item_creator", rows), muted)
