"""Drop videos rated unsafe: never servable, to anyone. The rating is the item's
`item_rating` as the view gives it, so a moderator's live label counts (see
`ranking.snapshot.overlay`)."""

from __future__ import annotations

import numpy as np

from ranking.snapshot.items import RATINGS

__all__ = ["NAME", "applies", "drop"]

NAME = "unsafe"
UNSAFE = RATINGS.index("unsafe")


def applies(_policy) -> bool:
    return True


def drop(snap, _query, _live, rows: np.ndarray) -> np.ndarray:
    return snap.take("item_rating", rows) == UNSAFE
