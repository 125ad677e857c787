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
    max_sim = np.full(n, -1.0)
    taken = np.zeros(n, dtype=bool)
    _, codes = np.unique(creators, return_inverse=True)
    per_creator = np.zeros(codes.max() + 1 if n else 0, dtype=np.int64)
    page: list[int] = []
    while len(page) < min(p.length, n):
        allowed = ~taken & (per_creator[codes] < p.per_creator_cap)
        if not allowed.any():
            break
        slot = len(page) + 1
        if slot % p.exploration_every == 0 and priority is not None \
                and (allowed & priority).any():
            pick = int(np.flatnonzero(allowed & priority)[0])
        elif slot % p.exploration_every == 0 and (allowed & fresh).any():
            pick = int(np.flatnonzero(allowed & fresh)[0])  # best-scored fresh video
        else:
            diversity = np.where(max_sim > -1.0, max_sim, 0.0)
            mmr = p.mmr_lambda * relevance - (1 - p.mmr_lambda) * diversity
            mmr = np.where(allowed, mmr, -np.inf)
            pick = int(np.argmax(mmr))  # first maximum: the better-scored on ties
        page.append(pick)
        taken[pick] = True
        per_creator[codes[pick]] += 1
        if vectors.size:
            max_sim = np.maximum(max_sim, vectors @ vectors[pick])
    return page
