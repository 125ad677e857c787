"""Drop videos on a topic the user muted (`/v1/me/mutes`): a muted topic is never served to
them. Not applied when personalization is off (that feed uses no per-user signal)."""

from __future__ import annotations

import numpy as np

from ranking.controls import topic_codes

__all__ = ["NAME", "applies", "drop"]

NAME = "muted_topic"


def applies(policy) -> bool:
    return policy.personalized


def drop(snap, query, _live, rows: np.ndarray) -> np.ndarray:
    muted = query.controls.muted_topics
    if not muted:
        return np.zeros(len(rows), dtype=bool)
    return np.isin(snap.take("item_topic", rows), topic_codes(snap, muted))
