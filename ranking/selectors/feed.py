"""Selection: a feed is not just the top scores.

Greedy, position by position, per user:
- every `exploration_every`-th slot goes to the best-scored fresh video, if any is left,
  so new generations reach viewers (what the user's people made since the snapshot first);
- otherwise the candidate maximising MMR, lambda * relevance - (1 - lambda) * (highest
  cosine similarity to what is already on the page), so one topic does not fill the feed;
- no creator gets more than `per_creator_cap` slots.
Relevance is the ranker score min-max scaled within the user's pool, so lambda means the same
for every user. Ties break by item id: the same input gives the same page, batch or online.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SelectionParams", "select_page"]

@dataclass(frozen=True)
class SelectionParams:
    length: int
    per_creator_cap: int
    mmr_lambda: float
    exploration_every: int
    pool_factor: int = 3


def select_page(scores: np.ndarray, vectors: np.ndarray, creators: np.ndarray,
                fresh: np.ndarray, p: SelectionParams, priority: np.ndarray | None = None
                ) -> list[int]:
    """Indices into the user's pool (already sorted by score desc, item id asc).
    `priority`: fresh videos that take exploration slots before any other (what people the
    user follows made since the snapshot), best-scored first."""
    n = len(scores)
    span = scores.max() - scores.min()
    relevance = (scores - scores.min()) / span if span > 0 else np.ones(n)
    base = p.mmr_lambda * relevance
    weight = 1 - p.mmr_lambda
    max_sim = np.full(n, -1.0)
    # The MMR value of every candidate given the page so far; -inf once it may not be
    # picked (taken, or its creator at the cap, which is updated only when a cap is hit).
    mmr = base.copy()
    allowed = np.ones(n, dtype=bool)
    _, codes = np.unique(creators, return_inverse=True)
    per_creator = np.zeros(codes.max() + 1 if n else 0, dtype=np.int64)
    page: list[int] = []
    while len(page) < min(p.length, n) and allowed.any():
        pick = -1
        if (len(page) + 1) % p.exploration_every == 0:
            for wanted in (priority, fresh):
                if wanted is not None and pick < 0:
                    found = np.flatnonzero(allowed & wanted)
                    pick = int(found[0]) if len(found) else -1  # the best-scored one
        if pick < 0:
            pick = int(np.argmax(mmr))  # first maximum: the better-scored on ties
        page.append(pick)
        allowed[pick] = False
        per_creator[codes[pick]] += 1
        if per_creator[codes[pick]] >= p.per_creator_cap:
            allowed &= codes != codes[pick]
        if vectors.size:
            np.maximum(max_sim, vectors @ vectors[pick], out=max_sim)
            mmr = base - weight * np.where(max_sim > -1.0, max_sim, 0.0)
        mmr[~allowed] = -np.inf
    return page
