"""Drop videos labelled unsafe: never servable, to anyone."""

from __future__ import annotations

import numpy as np

__all__ = ["NAME", "applies", "drop"]

NAME = "unsafe"


def applies(_policy) -> bool:
    return True


def drop(snap, _query, _live, rows: np.ndarray) -> np.ndarray:
    return snap.take("item_unservable", rows)
