"""A supervised account sees only videos rated safe (hard rule 2): anything sensitive,
and anything nobody has rated yet (a same-day generation the classifier could not rate),
is dropped. The rating is the item's `item_rating` as the view gives it, so a moderator's
live label counts on the next request, either way."""

from __future__ import annotations

import numpy as np

from ranking.snapshot.items import RATINGS

__all__ = ["NAME", "applies", "drop"]

NAME = "not_rated_safe"
SAFE = RATINGS.index("safe")


def applies(policy) -> bool:
    return policy.supervised


def drop(snap, _query, _live, rows: np.ndarray) -> np.ndarray:
    return snap.take("item_rating", rows) != SAFE
