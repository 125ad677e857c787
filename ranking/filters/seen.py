"""Drop what the user has already been shown: a feed is for new videos.

Not applied when personalization is off: that feed must not depend on the account's own
history at all, and "what you have seen" is history."""

from __future__ import annotations

import numpy as np

__all__ = ["NAME", "applies", "drop"]

NAME = "already_seen"


def applies(policy) -> bool:
    return policy.personalized


def drop(snap, query, _live, rows: np.ndarray) -> np.ndarray:
    seen = snap.seen.values[snap.seen.of(query.row)]
    return np.isin(rows, seen, assume_unique=False)
