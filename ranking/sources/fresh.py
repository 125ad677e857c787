"""Exploration: new videos with few impressions yet, so a generation can find viewers the
day it is made.

Each user gets a window of consecutive fresh videos starting at a pseudo-random offset (a
stable hash of the seed and the user), so every fresh video reaches some users, the work
is users x k rather than users x fresh videos, and batch and online draw the same sample
for the same user.
"""

from __future__ import annotations

import hashlib

import numpy as np

from ranking.context import Candidates, UserQuery
from ranking.serving.snapshot import ServingSnapshot
from reelrank.settings import Settings

__all__ = ["FAIL_OPEN", "NAME", "PERSONAL", "fresh_rows", "offset", "propose"]

NAME = "fresh"
FAIL_OPEN = False
PERSONAL = False


def offset(seed: int, user_id: object, n: int) -> int:
    digest = hashlib.blake2b(f"{seed}:{user_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % n


def fresh_rows(snap: ServingSnapshot, settings: Settings) -> np.ndarray:
    """Item rows made in the last `fresh_max_age_hours` with few impressions, newest
    first (ties by item id)."""
    key = ("fresh", settings.fresh_max_age_hours, settings.fresh_max_impressions)
    cached = snap.memo.get(key)
    if cached is None:
        n = snap.n_items
        # Items made after the snapshot date (same-day generations) have negative age.
        age = snap.as_of_s - snap.item_created_s[:n]
        ok = (age <= settings.fresh_max_age_hours * 3600.0) & (
            snap.item_impressions[:n] < settings.fresh_max_impressions)
        rows = np.flatnonzero(ok)
        cached = rows[np.lexsort((rows, -snap.item_created_s[rows]))]
        snap.memo[key] = cached
    return cached


def propose(snap: ServingSnapshot, queries: list[UserQuery], settings: Settings
            ) -> list[Candidates]:
    pool = fresh_rows(snap, settings)
    per_user = min(int(settings.fresh_per_user), len(pool))
    out = []
    for q in queries:
        if per_user == 0:
            out.append(Candidates.empty())
            continue
        start = offset(settings.seed, q.user_id, len(pool))
        rows = pool[(start + np.arange(per_user)) % len(pool)]
        scores = 1.0 - np.arange(per_user) / max(int(settings.fresh_per_user), 1)
        own = snap.item_creator[rows] == q.row
        out.append(Candidates(rows[~own], scores[~own]))
    return out
