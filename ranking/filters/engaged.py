"""Drop what the user engaged with since the snapshot (watched, liked, skipped, marked not
interested: every event the API accepted), which the snapshot's `already_seen` cannot know
yet. Not applied when personalization is off (that feed uses no per-user signal)."""

from __future__ import annotations

import numpy as np

__all__ = ["NAME", "applies", "drop"]

NAME = "engaged_since_snapshot"


def applies(policy) -> bool:
    return policy.personalized


def drop(_snap, query, _live, rows: np.ndarray) -> np.ndarray:
    engaged = query.session.engaged
    return np.isin(rows, engaged) if len(engaged) else np.zeros(len(rows), dtype=bool)
