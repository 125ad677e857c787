"""Drop videos by creators the user has blocked (read live from the control store)."""

from __future__ import annotations

import numpy as np

__all__ = ["NAME", "applies", "drop"]

NAME = "blocked_creator"


def applies(_policy) -> bool:
    return True


def drop(snap, query, live, rows: np.ndarray) -> np.ndarray:
    blocked = live.blocks.get(query.user_id)
    if not blocked:
        return np.zeros(len(rows), dtype=bool)
    codes = np.array([snap.user_row.get(b, -2) for b in blocked], dtype=np.int64)
    return np.isin(snap.take("item_creator", rows), codes)
