"""Selection: a feed is not just the top scores.

Greedy, position by position, per user:
- every `exploration_every`-th slot goes to the best-scored fresh video, if any is left,
  so new generations reach viewers: first what was made since the snapshot by the user's
  people or found by their taste (a source searching by taste proposed it; the ranker,
  which has no history for it, cannot judge it yet), whatever its score;
- otherwise the candidate maximising MMR, lambda * relevance - (1 - lambda) * (highest
  cosine similarity to what is already on the page), so one topic does not fill the feed;
- no creator gets more than `per_creator_cap` slots.
Relevance is the ranker score min-max scaled within the user's pool, so lambda means the same
for every user. Ties break by item id: the same input gives the same page, batch or online.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ranking.context import Page, Pool, Scoring, UserQuery

__all__ = ["NAME", "SelectionParams", "select", "select_page"]

NAME = "feed"

@dataclass(frozen=True)
class SelectionParams:
    length: int
    per_creator_cap: int
    mmr_lambda: float
    exploration_every: int
    pool_factor: int = 3

    @classmethod
    def from_settings(cls, settings) -> SelectionParams:
        return cls(settings.feed_length, settings.per_creator_cap, settings.mmr_lambda,
                   settings.exploration_every, settings.selection_pool_factor)


def select_page(scores: np.ndarray, vectors: np.ndarray, creators: np.ndarray,
                fresh: np.ndarray, p: SelectionParams, priority: np.ndarray | None = None,
                first: int | None = None) -> list[int]:
    """Indices into the user's pool (already sorted by score desc, item id asc).
    `priority`: fresh videos that take exploration slots before any other (what people the
    user follows made since the snapshot), best-scored first. `first`: stop after this
    many picks (greedy, so they are the full page's first)."""
    n = len(scores)
    span = scores.max() - scores.min()
    relevance = (scores - scores.min()) / span if span > 0 else np.ones(n)
    base = p.mmr_lambda * relevance
    weight = 1 - p.mmr_lambda
    # The MMR value of every candidate given the page so far is `open_ - weight * max_sim`:
    # `open_` is the relevance term, -inf once a candidate may not be picked (taken, or its
    # creator at the cap); `max_sim` its highest similarity to a picked item, 0 until the
    # first pick. Updated in place: a handful of array operations per pick, not a rebuild.
    open_ = base.copy()
    max_sim = np.zeros(n)
    allowed = np.ones(n, dtype=bool)
    _, codes = np.unique(creators, return_inverse=True)
    per_creator = np.zeros(codes.max() + 1 if n else 0, dtype=np.int64)
    has_vectors = vectors.size > 0
    sims = np.empty(n, dtype=vectors.dtype) if has_vectors else None
    mmr = np.empty(n)
    page: list[int] = []
    stop = min(p.length, n) if first is None else min(p.length, n, first)
    while len(page) < stop:
        pick = -1
        if (len(page) + 1) % p.exploration_every == 0:
            for wanted in (priority, fresh):
                if wanted is not None and pick < 0:
                    found = np.flatnonzero(allowed & wanted)
                    pick = int(found[0]) if len(found) else -1  # the best-scored one
        if pick < 0:
            np.multiply(max_sim, -weight, out=mmr)
            mmr += open_
            pick = int(mmr.argmax())  # first maximum: the better-scored on ties
            if open_[pick] == -np.inf:
                break  # nothing left that may be picked
        page.append(pick)
        allowed[pick] = False
        open_[pick] = -np.inf
        per_creator[codes[pick]] += 1
        if per_creator[codes[pick]] >= p.per_creator_cap:
            capped = codes == codes[pick]
            allowed &= ~capped
            open_[capped] = -np.inf
        if has_vectors:
            np.matmul(vectors, vectors[pick], out=sims)
            if len(page) == 1:
                max_sim[:] = sims
            else:
                np.maximum(max_sim, sims, out=max_sim)
    return page


def select(ctx: Scoring, q: UserQuery, pool: Pool, scores: np.ndarray) -> Page:
    """The page for one user from their scored pool: the best `length * pool_factor`
    candidates by score (ties by item id: rows are in item id order), then `select_page`."""
    view, p = ctx.view, SelectionParams.from_settings(ctx.settings)
    if len(pool.rows) == 0:
        return Page(q.user_id, [], np.empty(0), [], q.policy.personalized)
    order = np.lexsort((pool.rows, -scores))
    since = _since_snapshot(view, q, pool.rows[order], pool.bits[order], ctx.taste_bits)
    keep = np.zeros(len(order), dtype=bool)
    keep[: p.length * p.pool_factor] = True
    if since is not None:
        keep |= since  # a priority video stays a candidate whatever its score
    order = order[keep]
    since = since[keep] if since is not None else None
    rows, bits, scores = pool.rows[order], pool.bits[order], scores[order]
    picks = select_page(scores, view.take("item_vectors", rows),
                        view.take("item_cap_key", rows), (bits & ctx.exploration_bit) > 0, p,
                        since if since is not None and since.any() else None, ctx.first)
    return Page(q.user_id, view.item_ids_of(rows[picks]), scores[picks],
                [pool.labels[int(bits[i])] for i in picks], q.policy.personalized)


def _since_snapshot(view, q: UserQuery, rows: np.ndarray, bits: np.ndarray, taste_bits: int
                    ) -> np.ndarray | None:
    """Which of `rows` were made after the snapshot (same-day reach) and either by the
    user's people or proposed by a source that searches by the user's taste."""
    if view.n_items == view.n_base or not q.policy.personalized:
        return None
    new = rows >= view.n_base
    if not new.any():
        return None
    wanted = new & ((bits & taste_bits) > 0) if taste_bits else np.zeros(len(rows), bool)
    live = view.live_by_creator
    if live and q.row >= 0:
        people = view.people.values[view.people.of(q.row)].tolist()
        made = [r for p in people for r in live.get(p, ())]
        if made:
            wanted |= np.isin(rows, made)
    return wanted if wanted.any() else None
