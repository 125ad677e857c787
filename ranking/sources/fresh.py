"""Exploration: new videos with few impressions yet, so a generation can find viewers the
day it is made.

Each user gets a window of consecutive fresh videos starting at a pseudo-random offset (a
stable hash of the seed and the user), so every fresh video reaches some users, the work
is users x k rather than users x fresh videos, and batch and online draw the same sample
for the same user.

Online, once events of the day are counted (`LiveItems.counted`), exploration learns during
the day: a video shown `fresh_max_impressions` times in all leaves the pool, and a
`fresh_explore_share` of each user's slots goes to Thompson sampling among the fresh
videos shown today: each one's win rate drawn from Beta(1 + wins, 1 + impressions - wins),
the highest draws taken (so a video that wins when shown is shown more, while one with few
impressions still gets its chances). The rest of the slots stay the window, which keeps
trying the videos nobody has seen yet.
The draw is seeded by the seed, the user and how many events were counted: the same state
gives the same page. With nothing counted (the nightly batch) the window alone.
"""

from __future__ import annotations

import hashlib

import numpy as np

from ranking.context import Candidates, UserQuery
from ranking.snapshot.view import View
from reelrank.settings import Settings

__all__ = ["FAIL_OPEN", "NAME", "PERSONAL", "fresh_rows", "offset", "propose"]

NAME = "fresh"
FAIL_OPEN = False
PERSONAL = False


def offset(seed: int, user_id: object, n: int) -> int:
    digest = hashlib.blake2b(f"{seed}:{user_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % n


def _fresh(created_s: np.ndarray, impressions: np.ndarray, as_of_s: float,
           settings: Settings, first_row: int = 0) -> np.ndarray:
    """Rows (from `first_row`) that count as fresh, newest first, ties by row (item id)."""
    # Items made after the snapshot date (same-day generations) have negative age.
    ok = (as_of_s - created_s <= settings.fresh_max_age_hours * 3600.0) & (
        impressions < settings.fresh_max_impressions)
    rows = np.flatnonzero(ok)
    return rows[np.lexsort((rows, -created_s[rows]))] + first_row


def fresh_rows(snap: View, settings: Settings) -> np.ndarray:
    """Item rows made in the last `fresh_max_age_hours` with few impressions, newest
    first (ties by item id). The snapshot's part is computed once per settings; items
    added since are merged in by age (their rows come after every snapshot row)."""
    key = ("fresh", settings.fresh_max_age_hours, settings.fresh_max_impressions)
    base = snap.memo.get(key)
    if base is None:
        base = _fresh(snap.item_created_s, snap.item_impressions, snap.as_of_s, settings)
        snap.memo[key] = base
    if snap.n_items == snap.n_base:
        return _unspent(snap, base, settings)
    rows = np.arange(snap.n_base, snap.n_items)
    created = snap.take("item_created_s", rows)
    extra = _fresh(created, snap.take("item_impressions", rows), snap.as_of_s, settings,
                   snap.n_base)
    at = np.searchsorted(-snap.item_created_s[base], -created[extra - snap.n_base],
                         side="right")
    return _unspent(snap, np.insert(base, at, extra), settings)


def _unspent(snap: View, rows: np.ndarray, settings: Settings) -> np.ndarray:
    """`rows` without those shown `fresh_max_impressions` times counting today's."""
    shown, _won = snap.live_counts(rows)
    if not shown.any():
        return rows
    return rows[snap.take("item_impressions", rows) < settings.fresh_max_impressions]


def _sampled(snap: View, pool: np.ndarray, n: int, seed: int, user_id: object
             ) -> np.ndarray:
    """`n` rows of `pool` by Thompson sampling on their live impressions and wins."""
    shown, won = snap.live_counts(pool)
    tried = shown > 0
    if n <= 0 or not tried.any():
        return pool[:0]
    pool, shown, won = pool[tried], shown[tried], won[tried]
    digest = hashlib.blake2b(f"{seed}:{user_id}:{int(shown.sum())}".encode(),
                             digest_size=8).digest()
    rng = np.random.default_rng(int.from_bytes(digest, "big"))
    draws = rng.beta(1.0 + won, 1.0 + np.maximum(shown - won, 0))
    return pool[np.argsort(-draws, kind="stable")[:n]]


def propose(snap: View, queries: list[UserQuery], settings: Settings
            ) -> list[Candidates]:
    pool = fresh_rows(snap, settings)
    per_user = min(int(settings.fresh_per_user), len(pool))
    out = []
    for q in queries:
        if per_user == 0:
            out.append(Candidates.empty())
            continue
        sampled = _sampled(snap, pool, round(per_user * settings.fresh_explore_share),
                           settings.seed, q.user_id)
        start = offset(settings.seed, q.user_id, len(pool))
        window = pool[(start + np.arange(per_user)) % len(pool)]
        window = window[~np.isin(window, sampled)][: per_user - len(sampled)]
        rows = np.concatenate([sampled, window]) if len(sampled) else window
        scores = 1.0 - np.arange(len(rows)) / max(int(settings.fresh_per_user), 1)
        own = snap.take("item_creator", rows) == q.row
        out.append(Candidates(rows[~own], scores[~own]))
    return out
